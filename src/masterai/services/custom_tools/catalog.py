"""The local catalog (the marketplace): published bundles, search, installs per company.

Super admins publish a tested version (its signed bundle is frozen in the catalog); anyone
permitted searches it and installs a version for companies, which lands as a *draft* tool
(or a new draft version of the installer's tool): installed code is never active before its
tests pass in this instance and an approver activates it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from masterai.security import Principal
from masterai.security.roles import SUPER_ADMIN
from masterai.services.custom_tools.bundles import BundleSigner, make_bundle, open_bundle
from masterai.services.custom_tools.service import CustomToolService
from masterai.services.custom_tools.vocab import (
    CustomToolAccessDenied,
    CustomToolNotFound,
    Origin,
)
from masterai.services.errors import ConflictError, InvalidInputError
from masterai.store.models import Company, utcnow
from masterai.store.models.custom_tools import CatalogEntry, CatalogInstall, CustomTool

MAX_RESULTS = 50


class CatalogService:
    """The local catalog over :class:`CustomToolService`.

    Args:
        tools: the custom tools.
        signer: signs published bundles and checks them at install.
    """

    def __init__(self, tools: CustomToolService, signer: BundleSigner) -> None:
        self._tools = tools
        self._signer = signer
        self._database = tools.database

    def export(self, principal: Principal, name: str, version: int | None) -> dict[str, Any]:
        """A signed bundle of a version (default: the newest)."""
        spec, number, _ = self._tools.version_spec(principal, name, version)
        row = self._tools.version_row(principal, name, number)
        return make_bundle(self._signer, name=name, version=number, spec=spec, author=row["author"])

    def import_bundle(
        self, principal: Principal, bundle: Any, *, name: str | None = None
    ) -> dict[str, Any]:
        """Check ``bundle`` (hash, signature) and save it as a draft (a new tool or version).

        Raises:
            BundleError: malformed, changed, or signed by an untrusted key.
        """
        bundled, spec, provenance = open_bundle(self._signer, bundle)
        target = name or bundled
        if self._exists(target):
            return self._tools.update(principal, target, spec.canonical())
        return self._tools.create(
            principal, target, spec, origin=Origin.IMPORTED, provenance=provenance
        )

    def publish(self, principal: Principal, name: str, version: int) -> dict[str, Any]:
        """Put a tested version of a tool in the catalog (super admins only).

        Raises:
            CustomToolAccessDenied: not a super admin.
            ConflictError: that version is published already.
            TestsFailing: its tests were not run or do not pass.
        """
        if principal.role != SUPER_ADMIN:
            raise CustomToolAccessDenied("only super admins publish to the catalog")
        self._tools.check_tested(principal, name, version)
        bundle = self.export(principal, name, version)
        try:
            with self._database.session(immediate=True) as session:
                entry = CatalogEntry(
                    name=name,
                    version=version,
                    description=bundle["manifest"]["description"],
                    bundle=bundle,
                    content_hash=bundle["content_hash"],
                    published_by=principal.name,
                    published_at=utcnow(),
                )
                session.add(entry)
                session.flush()
                return _entry_dict(entry)
        except IntegrityError:
            raise ConflictError(
                f"version {version} of {name!r} is in the catalog already"
            ) from None

    def search(self, query: str | None) -> list[dict[str, Any]]:
        """Catalog tools whose name or description contains ``query`` (all when empty).

        Each result: name, description of the newest version, versions (with install counts)
        and which companies run which version.
        """
        with self._database.session() as session:
            select = sa.select(CatalogEntry).order_by(CatalogEntry.name, CatalogEntry.version)
            if query:
                pattern = f"%{query.lower()}%"
                select = select.where(
                    sa.or_(
                        sa.func.lower(CatalogEntry.name).like(pattern),
                        sa.func.lower(CatalogEntry.description).like(pattern),
                    )
                )
            entries = list(session.scalars(select.limit(MAX_RESULTS * 10)))
            installs = session.scalars(
                sa.select(CatalogInstall).where(CatalogInstall.name.in_({e.name for e in entries}))
            ).all()
        results: dict[str, dict[str, Any]] = {}
        for entry in entries:
            item = results.setdefault(
                entry.name, {"name": entry.name, "versions": [], "installs": {}}
            )
            item["description"] = entry.description
            item["versions"].append(
                {
                    "version": entry.version,
                    "published_by": entry.published_by,
                    "published_at": entry.published_at.isoformat(),
                    "install_count": entry.install_count,
                    "content_hash": entry.content_hash,
                }
            )
        for install in installs:
            results[install.name]["installs"][install.company_id] = install.version
        return list(results.values())[:MAX_RESULTS]

    def install(
        self, principal: Principal, name: str, version: int, companies: Sequence[str]
    ) -> dict[str, Any]:
        """Install a catalog version for ``companies``: a draft the installer tests and activates.

        Raises:
            CustomToolNotFound: no such catalog entry, or an unknown company.
            InvalidInputError: no companies, or one ``principal`` may not change.
        """
        if not companies:
            raise InvalidInputError("install_from_catalog needs the companies to install for")
        denied = [c for c in companies if not principal.permissions.data_access.can_write(c)]
        if denied:
            raise CustomToolAccessDenied(f"{principal.name!r} may not change company {denied[0]!r}")
        with self._database.session() as session:
            entry = session.scalar(
                sa.select(CatalogEntry).where(
                    CatalogEntry.name == name, CatalogEntry.version == version
                )
            )
            if entry is None:
                raise CustomToolNotFound(f"the catalog has no version {version} of {name!r}")
            for company in companies:
                if session.get(Company, company) is None:
                    raise CustomToolNotFound(f"company {company!r} does not exist")
            bundle = entry.bundle
        _, spec, provenance = open_bundle(self._signer, bundle)
        definition = {**spec.canonical(), "companies": sorted(set(companies))}
        if self._exists(name):
            current = self._tools.get(principal, name)["definition"]
            definition["companies"] = sorted(set(current["companies"]) | set(companies))
            tool = self._tools.update(principal, name, definition)
        else:
            from masterai.services.custom_tools.spec import ToolSpec

            tool = self._tools.create(
                principal,
                name,
                ToolSpec.from_mapping(definition),
                origin=Origin.CATALOG,
                provenance={**provenance, "catalog_version": version},
            )
        self._record_installs(principal, name, version, companies)
        return {
            "installed": {"name": name, "version": version, "companies": sorted(companies)},
            "tool": tool,
        }

    def _record_installs(
        self, principal: Principal, name: str, version: int, companies: Sequence[str]
    ) -> None:
        with self._database.session(immediate=True) as session:
            for company in sorted(set(companies)):
                row = session.scalar(
                    sa.select(CatalogInstall).where(
                        CatalogInstall.name == name, CatalogInstall.company_id == company
                    )
                )
                if row is None:
                    session.add(
                        CatalogInstall(
                            name=name,
                            version=version,
                            company_id=company,
                            installed_by=principal.name,
                            installed_at=utcnow(),
                        )
                    )
                else:
                    row.version, row.installed_by, row.installed_at = (
                        version,
                        principal.name,
                        utcnow(),
                    )
            session.execute(
                sa.update(CatalogEntry)
                .where(CatalogEntry.name == name, CatalogEntry.version == version)
                .values(install_count=CatalogEntry.install_count + len(set(companies)))
            )

    def _exists(self, name: str) -> bool:
        with self._database.session() as session:
            return (
                session.scalar(sa.select(CustomTool.id).where(CustomTool.name == name)) is not None
            )


def _entry_dict(entry: CatalogEntry) -> dict[str, Any]:
    return {
        "name": entry.name,
        "version": entry.version,
        "description": entry.description,
        "content_hash": entry.content_hash,
        "published_by": entry.published_by,
        "install_count": entry.install_count,
    }
