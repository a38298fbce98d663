"""Versioned AI configurations of companies, and configuration templates.

Every change writes a new version (author, time, change note, the version it came from) and
makes it the active one; nothing is overwritten, so any earlier version can be restored by
``rollback`` (which itself is a new version). Every mutating method

- takes ``dry_run``: compute and return the per-company diff, write nothing;
- takes ``expected_versions``: apply only if each company's active version is still the one
  the (approved) dry run was based on, else :class:`ConflictError` — so a human approves
  exactly the change that is made;
- is all-or-nothing: all companies change in one transaction, or none does.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from masterai.events import EventType, emit
from masterai.services.analytics.results import jsonable
from masterai.services.analytics.scope import check_company_id
from masterai.services.errors import ConflictError, InvalidInputError, NotFoundError
from masterai.store import Database
from masterai.store.models import AIConfiguration, Company, ConfigTemplate, utcnow

FIELDS = ("provider", "model", "system_prompt", "temperature", "max_tokens", "settings")
MAX_PROMPT_CHARS = 100_000
MAX_COMPANIES = 500

Fields = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class ConfigVersion:
    """One stored version of a company's configuration."""

    company_id: str
    version: int
    is_active: bool
    provider: str | None
    model: str | None
    system_prompt: str | None
    temperature: float | None
    max_tokens: int | None
    settings: dict[str, Any]
    author: str | None
    change_note: str | None
    created_at: datetime
    source_version: int | None

    def fields(self) -> Fields:
        """The configurable fields only."""
        return {name: getattr(self, name) for name in FIELDS}

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        data = jsonable(self)
        assert isinstance(data, dict)
        return data


@dataclass(frozen=True, kw_only=True)
class FieldChange:
    """One field that changes."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True, kw_only=True)
class CompanyChange:
    """What an operation does (or would do) to one company."""

    company_id: str
    status: str
    """``changed``, ``would_change`` (dry run) or ``unchanged``."""
    base_version: int | None
    """The active version the change is based on (``None``: no configuration yet)."""
    new_version: int | None
    """The version written (or that would be written); ``None`` when unchanged."""
    changes: list[FieldChange]
    diff: str
    """Readable diff: one line per field, a unified diff for the system prompt."""


@dataclass(frozen=True, kw_only=True)
class ChangeSet:
    """The result of a mutating operation: one entry per company."""

    operation: str
    dry_run: bool
    author: str
    change_note: str
    results: list[CompanyChange]
    template: dict[str, Any] | None = None

    @property
    def expected_versions(self) -> dict[str, int | None]:
        """Base version per company, to pass back when applying an approved dry run."""
        return {r.company_id: r.base_version for r in self.results}

    def diff_text(self) -> str:
        """The whole change as readable text (what a human approves)."""
        parts = [f"{self.operation}: {self.change_note}"]
        for r in self.results:
            head = f"== {r.company_id}: "
            if r.status == "unchanged":
                parts.append(head + "no change")
                continue
            base = f"v{r.base_version}" if r.base_version else "no configuration"
            parts.append(f"{head}{base} -> v{r.new_version}\n{r.diff}")
        return "\n".join(parts)

    def summary(self) -> str:
        """One line per company."""
        verb = "would change" if self.dry_run else "changed"
        changed = [r.company_id for r in self.results if r.status != "unchanged"]
        return (
            f"{self.operation}: {verb} {len(changed)} of {len(self.results)} companies"
            + (f" ({', '.join(changed)})" if changed else "")
            + "\n"
            + self.diff_text()
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form (includes the readable diff)."""
        data = jsonable(self)
        assert isinstance(data, dict)
        data["diff_text"] = self.diff_text()
        data["expected_versions"] = self.expected_versions
        return data


@dataclass(frozen=True, kw_only=True)
class Template:
    """A configuration template."""

    id: int
    name: str
    description: str | None
    created_by: str | None
    created_at: datetime
    values: Fields = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        data = jsonable(self)
        assert isinstance(data, dict)
        return data


def _version(row: AIConfiguration) -> ConfigVersion:
    return ConfigVersion(
        company_id=row.company_id,
        version=row.version,
        is_active=row.is_active,
        provider=row.provider,
        model=row.model,
        system_prompt=row.system_prompt,
        temperature=row.temperature,
        max_tokens=row.max_tokens,
        settings=dict(row.settings or {}),
        author=row.author,
        change_note=row.change_note,
        created_at=row.created_at,
        source_version=row.source_version,
    )


def _template(row: ConfigTemplate) -> Template:
    return Template(
        id=row.id,
        name=row.name,
        description=row.description,
        created_by=row.created_by,
        created_at=row.created_at,
        values={name: getattr(row, name) for name in FIELDS},
    )


def validate_changes(changes: Any) -> Fields:
    """Check a partial configuration; return it with ``settings`` as given (merged later)."""
    if not isinstance(changes, Mapping) or not changes:
        raise InvalidInputError(
            f"changes must be a non-empty object with some of: {', '.join(FIELDS)}; got {changes!r}"
        )
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise InvalidInputError(
            f"unknown configuration field {unknown[0]!r}; allowed: {', '.join(FIELDS)}"
        )
    return {name: _check_field(name, value) for name, value in changes.items()}


def _check_field(name: str, value: Any) -> Any:
    if name in ("provider", "model"):
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise InvalidInputError(f"{name} must be a non-empty string, got {value!r}")
        return value.strip()
    if name == "system_prompt":
        if not isinstance(value, str) or not value.strip():
            raise InvalidInputError(f"system_prompt must be a non-empty string, got {value!r}")
        if len(value) > MAX_PROMPT_CHARS:
            raise InvalidInputError(
                f"system_prompt has {len(value)} characters; at most {MAX_PROMPT_CHARS}"
            )
        return value
    if name == "temperature":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or not 0 <= value <= 2:
            raise InvalidInputError(f"temperature must be a number from 0 to 2, got {value!r}")
        return float(value)
    if name == "max_tokens":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1_000_000:
            raise InvalidInputError(
                f"max_tokens must be an integer from 1 to 1000000, got {value!r}"
            )
        return value
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"settings must be an object, got {value!r}")
    try:
        json.dumps(value)
    except (TypeError, ValueError) as e:
        raise InvalidInputError(f"settings must be JSON-serialisable: {e}") from e
    return dict(value)


def merge(current: Fields, changes: Fields) -> Fields:
    """Apply ``changes`` to ``current``: ``settings`` keys merge; ``None`` deletes a key."""
    result = dict(current)
    for name, value in changes.items():
        if name == "settings":
            merged = dict(current.get("settings") or {})
            for key, item in value.items():
                if item is None:
                    merged.pop(key, None)
                else:
                    merged[key] = item
            result["settings"] = merged
        else:
            result[name] = value
    return result


def diff_fields(old: Fields, new: Fields) -> tuple[list[FieldChange], str]:
    """The changed fields and a readable diff of them."""
    changes: list[FieldChange] = []
    lines: list[str] = []
    for name in FIELDS:
        before = old.get(name) if name != "settings" else old.get(name) or {}
        after = new.get(name) if name != "settings" else new.get(name) or {}
        if before == after:
            continue
        changes.append(FieldChange(field=name, old=before, new=after))
        if name == "system_prompt":
            lines.append("system_prompt:")
            lines.extend(
                "  " + line
                for line in difflib.unified_diff(
                    str(before or "").splitlines(),
                    str(after or "").splitlines(),
                    "before",
                    "after",
                    lineterm="",
                )
            )
        else:
            lines.append(f"{name}: {json.dumps(before)} -> {json.dumps(after)}")
    return changes, "\n".join(lines)


_EMPTY: Fields = dict.fromkeys(FIELDS) | {"settings": {}}
# Computes a company's new fields from its current ones (None: no configuration yet).
Planner = Callable[[str, ConfigVersion | None], Fields]


def _check_text(value: Any, name: str, *, limit: int = 2000, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise InvalidInputError(
            f"{name} must be a {'non-empty ' if required else ''}string of at most {limit} "
            f"characters, got {value!r}"
        )
    return value.strip()


def _check_company_list(company_ids: Any) -> list[str]:
    if isinstance(company_ids, str) or not isinstance(company_ids, Sequence) or not company_ids:
        raise InvalidInputError(f"company_ids must be a non-empty list, got {company_ids!r}")
    if len(company_ids) > MAX_COMPANIES:
        raise InvalidInputError(
            f"company_ids has {len(company_ids)} entries; at most {MAX_COMPANIES}"
        )
    ids = [check_company_id(c, "company_ids[]") for c in company_ids]
    if len(set(ids)) != len(ids):
        raise InvalidInputError(f"company_ids has duplicates: {company_ids!r}")
    return ids


class ConfigurationService:
    """Reads and changes versioned configurations and templates in the store."""

    def __init__(self, database: Database) -> None:
        self.database = database

    # --- reads --------------------------------------------------------------------------

    def get_configuration(self, company_id: str, version: int | None = None) -> ConfigVersion:
        """The active configuration of a company, or the given ``version``."""
        check_company_id(company_id)
        with self.database.session() as session:
            self._require_companies(session, [company_id])
            query = sa.select(AIConfiguration).where(AIConfiguration.company_id == company_id)
            if version is None:
                query = query.where(AIConfiguration.is_active)
            else:
                query = query.where(AIConfiguration.version == _check_version(version))
            row = session.scalars(query).first()
            if row is None:
                what = f"version {version}" if version is not None else "an active configuration"
                raise NotFoundError(f"company {company_id!r} has no {what}")
            return _version(row)

    def list_versions(self, company_id: str, *, limit: int = 50) -> list[ConfigVersion]:
        """A company's versions, newest first."""
        check_company_id(company_id)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise InvalidInputError(f"limit must be an integer from 1 to 1000, got {limit!r}")
        with self.database.session() as session:
            self._require_companies(session, [company_id])
            rows = session.scalars(
                sa.select(AIConfiguration)
                .where(AIConfiguration.company_id == company_id)
                .order_by(AIConfiguration.version.desc())
                .limit(limit)
            )
            return [_version(r) for r in rows]

    def diff_versions(self, company_id: str, from_version: int, to_version: int) -> CompanyChange:
        """The diff between two stored versions of a company."""
        old = self.get_configuration(company_id, from_version)
        new = self.get_configuration(company_id, to_version)
        changes, text = diff_fields(old.fields(), new.fields())
        return CompanyChange(
            company_id=company_id,
            status="changed" if changes else "unchanged",
            base_version=old.version,
            new_version=new.version,
            changes=changes,
            diff=text,
        )

    def list_templates(self) -> list[Template]:
        """All templates, by name."""
        with self.database.session() as session:
            rows = session.scalars(sa.select(ConfigTemplate).order_by(ConfigTemplate.name))
            return [_template(r) for r in rows]

    # --- changes ------------------------------------------------------------------------

    def update_prompt(self, company_id: str, prompt: str, **options: Any) -> ChangeSet:
        """Set a company's system prompt (a new version)."""
        changes = validate_changes({"system_prompt": prompt})
        return self._change(
            "update_prompt",
            [check_company_id(company_id)],
            lambda _c, cur: merge(cur.fields() if cur else _EMPTY, changes),
            default_note="update system prompt",
            **options,
        )

    def update_configuration(
        self, company_id: str, changes: Mapping[str, Any], **options: Any
    ) -> ChangeSet:
        """Change model, provider, temperature, max tokens, prompt or settings of a company."""
        checked = validate_changes(changes)
        return self._change(
            "update_configuration",
            [check_company_id(company_id)],
            lambda _c, cur: merge(cur.fields() if cur else _EMPTY, checked),
            default_note=f"update {', '.join(sorted(checked))}",
            **options,
        )

    def apply_to_multiple_companies(
        self, company_ids: Sequence[str], changes: Mapping[str, Any], **options: Any
    ) -> ChangeSet:
        """Apply the same partial change to several companies, all or none."""
        checked = validate_changes(changes)
        return self._change(
            "apply_to_multiple_companies",
            _check_company_list(company_ids),
            lambda _c, cur: merge(cur.fields() if cur else _EMPTY, checked),
            default_note=f"bulk update {', '.join(sorted(checked))}",
            **options,
        )

    def clone_configuration(
        self, source_company_id: str, target_company_id: str, **options: Any
    ) -> ChangeSet:
        """Copy the source company's active configuration to the target (a new version)."""
        check_company_id(source_company_id, "source_company_id")
        check_company_id(target_company_id, "target_company_id")
        if source_company_id == target_company_id:
            raise InvalidInputError(
                f"source and target company are the same: {source_company_id!r}"
            )
        source = self.get_configuration(source_company_id).fields()
        return self._change(
            "clone_configuration",
            [target_company_id],
            lambda _c, _cur: dict(source),
            default_note=f"clone of {source_company_id}",
            **options,
        )

    def rollback(self, company_id: str, version: int, **options: Any) -> ChangeSet:
        """Make an earlier version's content active again (as a new version)."""
        target = self.get_configuration(company_id, _check_version(version))
        return self._change(
            "rollback",
            [company_id],
            lambda _c, _cur: target.fields(),
            default_note=f"rollback to v{target.version}",
            source_version=target.version,
            **options,
        )

    def apply_template(
        self, template_name: str, company_ids: Sequence[str], **options: Any
    ) -> ChangeSet:
        """Replace the configuration of ``company_ids`` with a template's values."""
        template = self.get_template(template_name)
        values = dict(template.values)
        values["settings"] = dict(values.get("settings") or {})
        result = self._change(
            "apply_template",
            _check_company_list(company_ids),
            lambda _c, _cur: dict(values),
            default_note=f"apply template {template.name}",
            **options,
        )
        return ChangeSet(**{**result.__dict__, "template": template.to_dict()})

    def get_template(self, name: str) -> Template:
        """A template by name."""
        _check_text(name, "template_name", limit=200, required=True)
        with self.database.session() as session:
            row = session.scalars(
                sa.select(ConfigTemplate).where(ConfigTemplate.name == name)
            ).first()
            if row is None:
                known = session.scalars(sa.select(ConfigTemplate.name)).all()
                raise NotFoundError(
                    f"unknown template {name!r}; known: {', '.join(sorted(known)) or 'none'}"
                )
            return _template(row)

    def save_as_template(
        self,
        company_id: str,
        name: str,
        *,
        description: str | None = None,
        author: str,
        dry_run: bool = False,
    ) -> Template:
        """Save a company's active configuration as a new named template."""
        name = _check_text(name, "name", limit=200, required=True)
        description = _check_text(description, "description") or None
        source = self.get_configuration(company_id)
        with self.database.session(immediate=True) as session:
            exists = session.scalars(
                sa.select(ConfigTemplate.id).where(ConfigTemplate.name == name)
            ).first()
            if exists is not None:
                raise ConflictError(f"a template named {name!r} already exists")
            row = ConfigTemplate(
                name=name, description=description, created_by=author, **source.fields()
            )
            if dry_run:
                return Template(
                    id=0,
                    name=name,
                    description=description,
                    created_by=author,
                    created_at=utcnow(),
                    values=source.fields(),
                )
            session.add(row)
            try:
                session.flush()
            except IntegrityError as e:
                raise ConflictError(f"a template named {name!r} already exists") from e
            return _template(row)

    def record_test_failure(
        self, company_id: str, version: int, *, summary: Mapping[str, Any], failed: Sequence[str]
    ) -> None:
        """Emit ``test.failed`` for a test run of ``company_id``'s version with failing cases."""
        with self.database.session() as session:
            emit(
                session,
                EventType.TEST_FAILED,
                company_id=company_id,
                actor=None,
                data={
                    "company_id": company_id,
                    "version": version,
                    "summary": dict(summary),
                    "failed_cases": list(failed)[:100],
                },
            )

    # --- the one write path ---------------------------------------------------------------

    def _change(
        self,
        operation: str,
        company_ids: list[str],
        plan: Planner,
        *,
        author: str,
        default_note: str,
        change_note: str | None = None,
        dry_run: bool = False,
        expected_versions: Mapping[str, int | None] | None = None,
        source_version: int | None = None,
    ) -> ChangeSet:
        author = _check_text(author, "author", limit=200, required=True)
        note = _check_text(change_note, "change_note") or default_note
        with self.database.session(immediate=True) as session:
            self._require_companies(session, company_ids, lock=True)
            active = self._active(session, company_ids)
            if expected_versions is not None:
                _check_expected(active, expected_versions)
            results = []
            for company_id in company_ids:
                current = active.get(company_id)
                new_fields = plan(company_id, current)
                change = self._one_change(session, company_id, current, new_fields, dry_run)
                if change.status == "changed":
                    base = change.base_version
                    self._write(
                        session,
                        company_id,
                        change.new_version or 0,
                        new_fields,
                        author=author,
                        note=note,
                        source_version=source_version if source_version is not None else base,
                    )
                    _emit_change(session, operation, change, author=author, note=note)
                results.append(change)
            try:
                session.flush()
            except IntegrityError as e:
                raise ConflictError(
                    f"{operation}: a concurrent change created the same version; retry"
                ) from e
        return ChangeSet(
            operation=operation, dry_run=dry_run, author=author, change_note=note, results=results
        )

    def _one_change(
        self,
        session: Session,
        company_id: str,
        current: ConfigVersion | None,
        new_fields: Fields,
        dry_run: bool,
    ) -> CompanyChange:
        """What changing ``company_id`` from ``current`` to ``new_fields`` does."""
        changes, text = diff_fields(current.fields() if current else _EMPTY, new_fields)
        base = current.version if current else None
        if not changes:
            return CompanyChange(
                company_id=company_id,
                status="unchanged",
                base_version=base,
                new_version=None,
                changes=[],
                diff="",
            )
        return CompanyChange(
            company_id=company_id,
            status="would_change" if dry_run else "changed",
            base_version=base,
            new_version=self._next_version(session, company_id),
            changes=changes,
            diff=text,
        )

    def _write(
        self,
        session: Session,
        company_id: str,
        version: int,
        values: Fields,
        *,
        author: str,
        note: str,
        source_version: int | None,
    ) -> None:
        session.execute(
            sa.update(AIConfiguration)
            .where(AIConfiguration.company_id == company_id, AIConfiguration.is_active)
            .values(is_active=False)
        )
        session.add(
            AIConfiguration(
                company_id=company_id,
                version=version,
                is_active=True,
                author=author,
                change_note=note,
                source_version=source_version,
                **{k: values.get(k) for k in FIELDS if k != "settings"},
                settings=dict(values.get("settings") or {}),
            )
        )

    @staticmethod
    def _next_version(session: Session, company_id: str) -> int:
        latest = session.scalar(
            sa.select(sa.func.max(AIConfiguration.version)).where(
                AIConfiguration.company_id == company_id
            )
        )
        return int(latest or 0) + 1

    @staticmethod
    def _active(session: Session, company_ids: list[str]) -> dict[str, ConfigVersion]:
        rows = session.scalars(
            sa.select(AIConfiguration).where(
                AIConfiguration.company_id.in_(company_ids), AIConfiguration.is_active
            )
        )
        return {r.company_id: _version(r) for r in rows}

    @staticmethod
    def _require_companies(session: Session, company_ids: list[str], *, lock: bool = False) -> None:
        query = sa.select(Company.id).where(Company.id.in_(company_ids))
        if lock:
            # Serialises concurrent changes of one company on PostgreSQL (SQLite: BEGIN
            # IMMEDIATE already holds the write lock).
            query = query.with_for_update()
        found = set(session.scalars(query))
        missing = [c for c in company_ids if c not in found]
        if missing:
            raise NotFoundError(
                f"unknown company {', '.join(repr(m) for m in missing)}; nothing was changed"
            )


def _emit_change(
    session: Session, operation: str, change: CompanyChange, *, author: str, note: str
) -> None:
    """Record the change as a platform event, in the change's own transaction."""
    kind = (
        EventType.CONFIGURATION_ROLLED_BACK
        if operation == "rollback"
        else EventType.CONFIGURATION_CHANGED
    )
    emit(
        session,
        kind,
        company_id=change.company_id,
        actor=author,
        data={
            "company_id": change.company_id,
            "operation": operation,
            "version": change.new_version,
            "base_version": change.base_version,
            "fields": [c.field for c in change.changes],
            "change_note": note,
            "author": author,
        },
    )


MAX_VERSION = 2**31 - 1
"""The largest version number the store can hold (an ``integer`` column)."""


def _check_version(version: Any) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_VERSION:
        raise InvalidInputError(
            f"version must be an integer from 1 to {MAX_VERSION}, got {version!r}"
        )
    return int(version)


def _check_expected(
    active: Mapping[str, ConfigVersion], expected: Mapping[str, int | None]
) -> None:
    for company_id, version in expected.items():
        current = active.get(company_id)
        now = current.version if current else None
        if now != version:
            raise ConflictError(
                f"the configuration of {company_id!r} changed since the diff was made "
                f"(expected v{version}, now v{now}); nothing was changed, review the new diff"
            )
