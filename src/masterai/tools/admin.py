"""The ``admin`` tool: users, roles, company access, permission grants, API tokens, companies.

A thin adapter over :class:`masterai.security.UserDirectory`, so every grant, role change and
token goes through the registry (permission check, audit). Its category ``admin`` is the
super admin's alone by default (see :mod:`masterai.security.roles`). An issued token is shown
once in the result; the audit stores it redacted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from ai_tool import (
    AITool,
    AIToolAuthorizationCallback,
    AIToolCall,
    AIToolDefinition,
    AIToolExecutionError,
    AIToolOperationDefinition,
    AIToolParameter,
    AIToolResult,
    AIToolValidationError,
)
from masterai.audit import STATUSES, AuditError, AuditLog
from masterai.security import (
    DirectoryError,
    ParameterRole,
    UserDirectory,
    UserInfo,
    hash_token,
    load_principal,
)
from masterai.security.errors import AuthenticationError
from masterai.store.models import AuditRecord, LoginLink, User, utcnow
from masterai.tools.adapter import author_of, tool_result

NAME = "admin"
LOGIN_LINK_MINUTES = 15
"""How long a console login link works by default (``issue_login_link``)."""

Handler = Callable[[AIToolCall, Any, AIToolAuthorizationCallback], Awaitable[AIToolResult]]

_COMPANY_ACCESS = AIToolParameter(
    "companies",
    "array",
    "Company access: [{company_id, access: read|write}] (access defaults to write for "
    "admins, read for others)",
    required=False,
    items=AIToolParameter(
        "access",
        "object",
        "One company's access",
        properties=[
            AIToolParameter("company_id", "string", "Company id", role=ParameterRole.COMPANY),
            AIToolParameter(
                "access", "string", "read or write", required=False, enum=["read", "write"]
            ),
        ],
    ),
)

_PARAMETERS = [
    AIToolParameter("name", "string", "User name", required=False),
    AIToolParameter("role", "string", "super_admin, admin, analyst or viewer", required=False),
    AIToolParameter(
        "email", "string", "The user's e-mail address", required=False, role=ParameterRole.PLAIN
    ),
    _COMPANY_ACCESS,
    AIToolParameter(
        "revoke",
        "array",
        "Company ids whose access is removed",
        required=False,
        items=AIToolParameter("company_id", "string", "Company id"),
        role=ParameterRole.COMPANY,
    ),
    AIToolParameter(
        "grants",
        "object",
        "Permission overrides KEY -> value (null removes), e.g. "
        '{"code_execution.languages": ["python"], "tools.code": "none"}',
        required=False,
    ),
    AIToolParameter("active", "boolean", "Whether the user may act", required=False),
    AIToolParameter(
        "issue_token",
        "boolean",
        "Also issue an API token (add_user)",
        required=False,
        role=ParameterRole.PLAIN,
    ),
    AIToolParameter(
        "token_name",
        "string",
        "Label of the token",
        required=False,
        default="default",
        role=ParameterRole.PLAIN,
    ),
    AIToolParameter(
        "token_id", "integer", "Id of the token to revoke", required=False, role=ParameterRole.PLAIN
    ),
    AIToolParameter(
        "auto_approve",
        "boolean",
        "The issued token may approve its own calls that need approval (HTTP ?approve=true)",
        required=False,
        role=ParameterRole.PLAIN,
    ),
    AIToolParameter(
        "valid_minutes",
        "integer",
        "Minutes a login link may be used in (1-1440, default 15)",
        required=False,
        role=ParameterRole.PLAIN,
    ),
    AIToolParameter(
        "company_id", "string", "Company id (slug)", required=False, role=ParameterRole.COMPANY
    ),
    AIToolParameter(
        "company_name",
        "string",
        "Display name of the company",
        required=False,
        role=ParameterRole.PLAIN,
    ),
    AIToolParameter("demo_companies", "integer", "Demo companies (1-5)", required=False),
    AIToolParameter("conversations", "integer", "Demo conversations in all", required=False),
    AIToolParameter("days", "integer", "Days of demo history", required=False),
    AIToolParameter("seed", "integer", "Random seed of the demo data", required=False),
    AIToolParameter(
        "end_date", "string", "Last day of the demo data, YYYY-MM-DD (default today)", False
    ),
    AIToolParameter("replace", "boolean", "Replace existing demo companies", required=False),
    AIToolParameter("limit", "integer", "Most audit records to return", required=False),
    AIToolParameter("tool_name", "string", "Only audit records of this tool", required=False),
    AIToolParameter("user", "string", "Only audit records of this user", required=False),
    AIToolParameter(
        "status",
        "string",
        "Only audit records with this status",
        required=False,
        enum=list(STATUSES),
    ),
    AIToolParameter(
        "since", "string", "Only audit records from this ISO date/time on (UTC)", required=False
    ),
]


def _user_dict(user: UserInfo) -> dict[str, Any]:
    return {
        "name": user.name,
        "role": user.role,
        "email": user.email,
        "active": user.is_active,
        "companies": user.companies,
        "grants": user.grants,
        "created_at": user.created_at.isoformat(),
    }


def _access(arguments: dict[str, Any], role: str | None) -> dict[str, str]:
    default = "write" if role == "admin" else "read"
    return {
        item["company_id"]: item.get("access", default) for item in arguments.get("companies", [])
    }


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


class AdminTool(AITool):
    """Manage users, their roles, company access, permissions and tokens, and companies.

    Args:
        directory: The user directory over the store.
        audit_log: The registry's audit trail (read by the ``audit_*`` operations).
    """

    type_check_arguments = True

    def __init__(self, directory: UserDirectory, audit_log: AuditLog) -> None:
        self._directory = directory
        self._audit = audit_log

    def get_definition(self) -> AIToolDefinition:
        """Return the ``admin`` definition."""
        return self._build_definition_from_operations(
            name=NAME,
            description_prefix=(
                "Administer the platform: users and their roles, company access, permission "
                "overrides and API tokens, and companies. Super admins only by default."
            ),
            additional_parameters=_PARAMETERS,
        )

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        """Return the administration operations."""

        def op(
            name: str,
            handler: Handler,
            allowed: set[str],
            required: set[str],
            description: str,
            read_only: bool = False,
        ) -> AIToolOperationDefinition:
            return AIToolOperationDefinition(
                name,
                handler,
                lambda args: f"{name} {args.get('name') or args.get('company_id') or ''}".strip(),
                allowed,
                required,
                description,
                read_only=read_only,
            )

        return {
            "add_user": op(
                "add_user",
                self._add_user,
                {"name", "role", "email", "companies", "issue_token", "token_name"},
                {"name", "role"},
                "Add a user with a role and company access (optionally issue a token)",
            ),
            "update_user": op(
                "update_user",
                self._update_user,
                {"name", "role", "companies", "revoke", "grants", "active"},
                {"name"},
                "Change a user's role, company access, permission overrides or active state "
                "in one all-or-nothing change",
            ),
            "revoke": op(
                "revoke",
                self._revoke,
                {"name", "revoke"},
                {"name", "revoke"},
                "Remove a user's access to companies",
            ),
            "issue_token": op(
                "issue_token",
                self._issue_token,
                {"name", "token_name", "auto_approve"},
                {"name"},
                "Issue an API token for a user (shown once; only its hash is kept); "
                "auto_approve lets requests with it approve their own calls",
            ),
            "issue_login_link": op(
                "issue_login_link",
                self._issue_login_link,
                {"name", "valid_minutes"},
                {"name"},
                "Issue a one-time web console login link for a user (its secret is shown "
                "once; only its hash is kept; it works once, within valid_minutes)",
            ),
            "revoke_token": op(
                "revoke_token",
                self._revoke_token,
                {"name", "token_id"},
                {"name", "token_id"},
                "Revoke one of a user's API tokens",
            ),
            "list_users": op(
                "list_users", self._list_users, set(), set(), "List users", read_only=True
            ),
            "show_user": op(
                "show_user",
                self._show_user,
                {"name"},
                {"name"},
                "Show a user's effective permissions and tokens",
                read_only=True,
            ),
            "add_company": op(
                "add_company",
                self._add_company,
                {"company_id", "company_name"},
                {"company_id", "company_name"},
                "Add a company (tenant)",
            ),
            "list_companies": op(
                "list_companies",
                self._list_companies,
                set(),
                set(),
                "List companies",
                read_only=True,
            ),
            "audit_tail": op(
                "audit_tail",
                self._audit_tail,
                {"limit"},
                set(),
                "The newest audit records, oldest first",
                read_only=True,
            ),
            "audit_search": op(
                "audit_search",
                self._audit_search,
                {"tool_name", "user", "company_id", "status", "since", "limit"},
                set(),
                "Audit records by tool, user, company, status and time (a call that named "
                "several companies is found by each)",
                read_only=True,
            ),
            "audit_verify": op(
                "audit_verify",
                self._audit_verify,
                set(),
                set(),
                "Check the keyed audit chain against the newest signed checkpoint and report "
                "the first broken record and why",
                read_only=True,
            ),
            "audit_rotate_key": op(
                "audit_rotate_key",
                self._audit_rotate_key,
                set(),
                set(),
                "Start a new audit key epoch: records from now on are signed with a new "
                "secret; earlier epochs keep verifying",
            ),
            "seed_demo": op(
                "seed_demo",
                self._seed_demo,
                {"demo_companies", "conversations", "days", "seed", "end_date", "replace"},
                set(),
                "Write the deterministic synthetic demo data set (companies, configurations, "
                "conversations); the same seed and end date give the same data",
            ),
        }

    # --- handlers ---------------------------------------------------------------------

    async def _run(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(function, *args, **kwargs)
        except (DirectoryError, AuthenticationError) as e:
            # A value the directory refuses (malformed id, unknown role or user) is bad input.
            raise AIToolValidationError(str(e), "") from e

    async def _add_user(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        user = await self._run(
            self._directory.add_user,
            args["name"],
            args["role"],
            email=args.get("email"),
            companies=_access(args, args["role"]),
            created_by=author_of(requester_ref),
        )
        data = _user_dict(user)
        summary = f"Added {user.role} {user.name}"
        if args.get("issue_token"):
            issued = await self._run(
                self._directory.create_token, user.name, token_name=args.get("token_name", "cli")
            )
            data["token"] = issued.token
            data["token_id"] = issued.id
            summary += f"; API token {issued.id} (shown once): {issued.token}"
        return tool_result(tool_call, summary, data)

    async def _update_user(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        changes = {"role", "companies", "revoke", "grants", "active"} & args.keys()
        if not changes:
            raise AIToolExecutionError(
                "Nothing to change: give role, companies, revoke, grants or active"
            )
        current = await self._run(self._directory.get_user, args["name"])
        user = await self._run(
            self._directory.update_user,
            args["name"],
            role=args.get("role"),
            companies=_access(args, args.get("role") or current.role),
            revoke=args.get("revoke"),
            grants=sorted(args.get("grants", {}).items()),
            granted_by=author_of(requester_ref),
            active=args.get("active"),
        )
        return tool_result(
            tool_call, f"Updated {user.name} ({', '.join(sorted(changes))})", _user_dict(user)
        )

    async def _revoke(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        user = await self._run(self._directory.update_user, args["name"], revoke=args["revoke"])
        return tool_result(
            tool_call,
            f"Removed {user.name}'s access to {', '.join(args['revoke'])}",
            _user_dict(user),
        )

    async def _issue_token(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        auto_approve = bool(args.get("auto_approve", False))
        issued = await self._run(
            self._directory.create_token,
            args["name"],
            token_name=args.get("token_name", "cli"),
            auto_approve=auto_approve,
        )
        kind = "auto-approving API token" if auto_approve else "API token"
        return tool_result(
            tool_call,
            f"{kind} {issued.id} for {issued.user} (shown once): {issued.token}",
            {
                "user": issued.user,
                "token_id": issued.id,
                "name": issued.name,
                "token": issued.token,
                "auto_approve": auto_approve,
            },
        )

    async def _issue_login_link(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        minutes = _bounded(args.get("valid_minutes", LOGIN_LINK_MINUTES), "valid_minutes", 1440)
        user = await self._run(self._directory.get_user, args["name"])
        if not user.is_active:
            raise AIToolValidationError(f"User {user.name!r} is deactivated", "name")
        secret, expires = await asyncio.to_thread(self._new_login_link, user.name, minutes)
        # The secret is under a secret-named key, so the audit stores it redacted; the
        # summary never contains it.
        return tool_result(
            tool_call,
            f"One-time console login link for {user.name}, valid until "
            f"{expires:%Y-%m-%d %H:%M} UTC (its secret is shown once, in the result)",
            {
                "user": user.name,
                "secret": secret,
                "path": "/login/<secret>",
                "expires_at": expires.isoformat(),
            },
        )

    def _new_login_link(self, name: str, minutes: int) -> tuple[str, datetime]:
        secret = secrets.token_urlsafe(32)
        now = utcnow()
        expires = now + timedelta(minutes=minutes)
        with self._directory.database.session() as session:
            user = session.scalars(select(User).where(User.name == name)).one()
            link = LoginLink(id=hash_token(secret), user_id=user.id, expires_at=expires)
            link.created_at = now
            session.add(link)
        return secret, expires

    async def _revoke_token(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        token = await self._run(self._directory.revoke_token, args["name"], args["token_id"])
        return tool_result(
            tool_call, f"Revoked token {token.id} ({token.name}) of {token.user}", _plain(token)
        )

    async def _list_users(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        users = await self._run(self._directory.list_users)
        lines = [f"{u.name} ({u.role}{'' if u.is_active else ', inactive'})" for u in users]
        return tool_result(
            tool_call, "\n".join(lines) or "no users", [_user_dict(u) for u in users]
        )

    async def _show_user(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        name = tool_call.arguments["name"]
        user = await self._run(self._directory.get_user, name)
        principal = await self._run(
            load_principal, self._directory.database, name, active_only=False
        )
        tokens = await self._run(self._directory.list_tokens, name)
        data = {
            **_user_dict(user),
            "permissions": principal.permissions.to_dict(),
            "tokens": [_plain(t) for t in tokens],
        }
        return tool_result(tool_call, f"{user.name} ({user.role})", data)

    async def _add_company(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        company = await self._run(
            self._directory.add_company, args["company_id"], args["company_name"]
        )
        return tool_result(
            tool_call, f"Added company {company.id} ({company.name})", _plain(company)
        )

    async def _list_companies(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        companies = await self._run(self._directory.list_companies)
        lines = [f"{c.id}: {c.name}" for c in companies]
        return tool_result(
            tool_call, "\n".join(lines) or "no companies", [_plain(c) for c in companies]
        )

    async def _seed_demo(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        from masterai.services.demo import seed_demo
        from masterai.services.errors import ServiceError

        args = tool_call.arguments
        try:
            end = date.fromisoformat(args["end_date"]) if "end_date" in args else None
        except ValueError:
            raise AIToolExecutionError(
                f"'end_date' must be YYYY-MM-DD, got {args['end_date']!r}"
            ) from None
        options = {
            key: args[name]
            for name, key in (
                ("demo_companies", "companies"),
                ("conversations", "conversations"),
                ("days", "days"),
                ("seed", "seed"),
                ("replace", "replace"),
            )
            if name in args
        }
        try:
            summary = await asyncio.to_thread(
                seed_demo, self._directory.database, end_date=end, **options
            )
        except ServiceError as e:
            raise AIToolExecutionError(str(e)) from e
        text = (
            f"Seeded {summary.conversations} conversations ({summary.messages} messages) for "
            f"{', '.join(summary.companies)} from {summary.start_date} to {summary.end_date}."
        )
        return tool_result(tool_call, text, summary.to_dict())

    async def _audit_tail(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        limit = _bounded(tool_call.arguments.get("limit", 20), "limit", 10_000)
        records = await asyncio.to_thread(self._audit.recent, limit)
        return _records_result(tool_call, records)

    async def _audit_search(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        since = None
        if "since" in args:
            try:
                since = datetime.fromisoformat(args["since"])
            except ValueError:
                raise AIToolExecutionError(
                    f"'since' must be an ISO date/time such as 2026-01-31T12:00:00+00:00, "
                    f"got {args['since']!r}"
                ) from None
            since = since if since.tzinfo else since.replace(tzinfo=UTC)
        records = await asyncio.to_thread(
            self._audit.search,
            tool=args.get("tool_name"),
            user=args.get("user"),
            company=args.get("company_id"),
            status=args.get("status"),
            since=since,
            limit=_bounded(args.get("limit", 100), "limit", 100_000),
        )
        return _records_result(tool_call, records)

    async def _audit_verify(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        try:
            report = await asyncio.to_thread(self._audit.verify)
        except AuditError as e:  # no usable key: nothing can be checked
            raise AIToolExecutionError(str(e)) from e
        if report.ok:
            text = f"ok: {report.checked} records verified"
        elif report.first_broken_id is not None:
            text = f"audit chain broken at record {report.first_broken_id}: {report.reason}"
        else:
            text = f"audit chain broken: {report.reason}"
        return tool_result(tool_call, text, report.to_dict())

    async def _audit_rotate_key(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        try:
            keyring = await asyncio.to_thread(self._audit.rotate_key)
        except AuditError as e:
            raise AIToolExecutionError(str(e)) from e
        data = {"key_epoch": keyring.current, "epochs": keyring.epochs, "key": keyring.source}
        text = (
            f"Started audit key epoch {keyring.current} ({keyring.source}): records from now "
            "on are signed with it"
        )
        earlier = [e for e in keyring.epochs if e != keyring.current]
        if earlier:
            text += f"; records of epoch {', '.join(map(str, earlier))} still verify"
        return tool_result(tool_call, text, data)


def _bounded(value: int, name: str, most: int) -> int:
    if not 1 <= value <= most:
        raise AIToolExecutionError(f"'{name}' must be between 1 and {most}, got {value!r}")
    return value


MALFORMED = "malformed"
"""The ``status`` shown for a stored row that cannot be read as a record (its
``problems`` say why; ``audit verify`` reports it as broken)."""


def record_dict(r: AuditRecord) -> dict[str, Any]:
    """An audit record as JSON (what ``audit_tail`` and ``audit_search`` return).

    A malformed stored row has ``status`` ``"malformed"`` and its ``problems`` listed; the
    fields that could not be read are null.
    """
    return {
        "id": r.id,
        "created_at": r.created_at.isoformat() if r.created_at is not None else None,
        "user": r.user_name,
        "tool": r.tool,
        "operation": r.operation,
        "status": MALFORMED if r.problems else r.status,
        "company_id": r.company_id,
        "company_ids": json.loads(r.company_ids) if r.company_ids else None,
        "duration_ms": r.duration_ms,
        "client_address": r.client_address,
        "request_id": r.request_id,
        "params": r.params,
        "result_summary": r.result_summary,
        "error": r.error,
        "hash": r.hash,
        "key_epoch": r.key_epoch,
        "problems": list(r.problems),
    }


def _record_line(r: AuditRecord) -> str:
    moment = f"{r.created_at:%Y-%m-%d %H:%M:%S}" if r.created_at is not None else "?"
    call = f"{r.tool}{'.' + r.operation if r.operation else ''}"
    status = f"{MALFORMED} ({'; '.join(r.problems)})" if r.problems else r.status
    return f"{r.id} {moment} {r.user_name} {call} {status}"


def _records_result(tool_call: AIToolCall, records: list[AuditRecord]) -> AIToolResult:
    lines = [_record_line(r) for r in records]
    return tool_result(
        tool_call, "\n".join(lines) or "no audit records", [record_dict(r) for r in records]
    )
