"""``masterai init``, ``masterai db ...``, ``masterai user ...``, ``masterai company ...``.

Users, grants, tokens and companies change only through the registry's ``admin`` tool, so
each change is permission-checked (super admins by default) and audited. ``init`` is the one
exception to "as a user": it creates the first super admin, through the same tool, acting as
the built-in ``system`` principal, so even that leaves an audit record.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from masterai.cli.common import console, fail, print_json
from masterai.cli.context import (
    AsOption,
    JsonOption,
    call,
    cli_client_address,
    open_platform,
    raise_failure,
    structured,
    summary_of,
)

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
user_app = typer.Typer(
    help="Users, their roles, company access, permissions and tokens.", no_args_is_help=True
)
company_app = typer.Typer(help="Companies (tenants).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add ``init`` and the ``db``, ``user`` and ``company`` groups to ``app``."""
    app.command("init")(init)
    app.add_typer(db_app, name="db")
    app.add_typer(user_app, name="user")
    app.add_typer(company_app, name="company")


def init(
    admin: Annotated[
        str | None, typer.Option(help="Name of the super admin (default: the local admin).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create the database, the audit key and the first super admin; print its token once.

    Safe to run again: an existing database is migrated, an existing key and admin are kept
    and no new token is printed. A missing key for an audit log that has signed records is
    an error, never a new key.
    """
    from masterai.audit import AuditError
    from masterai.registry import approve_all
    from masterai.security import SUPER_ADMIN, AuthenticationError, system_principal

    current = open_platform()
    settings = current.settings
    settings.workspace.mkdir(parents=True, exist_ok=True)
    try:
        audit_key = current.ensure_audit_key()
    except AuditError as e:
        fail(str(e))
    name = admin or settings.registry.local_admin
    try:
        existing = current.principal(name)
    except AuthenticationError:
        existing = None
    token = None
    if existing is None:
        context = current.context(
            system_principal("masterai init"),
            client_address=cli_client_address(),
            approver=approve_all,
        )
        result = current.call_sync(
            "admin",
            {
                "operation": "add_user",
                "name": name,
                "role": SUPER_ADMIN,
                "issue_token": True,
                "token_name": "init",
            },
            context,
        )
        if not result.ok:
            raise_failure(result)
        token = structured(result)["token"]
    elif existing.role != SUPER_ADMIN:
        fail(f"User {name!r} exists with role {existing.role!r}, not {SUPER_ADMIN!r}")
    summary = {
        "home": str(settings.home.resolve()),
        "database": current.database.display_url,
        "admin": name,
        "created": existing is None,
        "token": token,
        "audit_key": audit_key,
    }
    if as_json:
        print_json(summary)
        return
    if existing is None:
        console.print(f"Created super admin [bold]{name}[/] in {summary['home']}")
        console.print("API token (shown once, store it now):")
        console.print(token, highlight=False, soft_wrap=True)
    else:
        console.print(
            f"Already initialised: super admin [bold]{name}[/] exists; database up to date."
        )
    # the key is as precious as the database: without it signed records cannot be verified
    console.print(f"Audit records are signed with {escape(audit_key)} (back it up).")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (creates the database if needed)."""
    database = open_platform().database
    console.print(f"Database at revision {database.current_revision()}")


# --- users ---------------------------------------------------------------------------


def _companies(values: list[str]) -> list[dict[str, str]]:
    """``ID`` or ``ID:read`` / ``ID:write`` options as the admin tool's company access."""
    access = []
    for value in values:
        company, _, level = value.partition(":")
        access.append({"company_id": company, **({"access": level} if level else {})})
    return access


def _show_users(users: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print_json(users)
        return
    table = Table("name", "role", "active", "companies", "grants")
    for column in table.columns:
        column.overflow = "fold"
    for u in users:
        table.add_row(
            escape(u["name"]),
            u["role"],
            "yes" if u["active"] else "no",
            ", ".join(f"{c}:{a}" for c, a in sorted(u["companies"].items())) or "-",
            escape(", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(u["grants"].items())))
            or "-",
        )
    console.print(table)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option(help="super_admin, admin, analyst or viewer.")],
    company: Annotated[
        list[str] | None,
        typer.Option(help="Company access, repeatable: ID or ID:read / ID:write."),
    ] = None,
    email: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
    token: Annotated[bool, typer.Option("--token", help="Also issue an API token.")] = False,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a user (admins get write access to listed companies, others read)."""
    params: dict[str, Any] = {"operation": "add_user", "name": name, "role": role}
    if company:
        params["companies"] = _companies(company)
    if email is not None:
        params["email"] = email
    if token:
        params |= {"issue_token": True, "token_name": "cli"}
    user = structured(call("admin", params, as_user=as_user))
    if as_json:
        print_json({k: user.get(k) for k in ("name", "role", "companies", "token", "token_id")})
        return
    console.print(f"Added {user['role']} [bold]{escape(user['name'])}[/]")
    if token:
        console.print("API token (shown once):")
        console.print(user["token"], highlight=False, soft_wrap=True)


@user_app.command("list")
def user_list(as_user: AsOption = None, as_json: JsonOption = False) -> None:
    """List users with their roles, companies and grants."""
    _show_users(structured(call("admin", {"operation": "list_users"}, as_user=as_user)), as_json)


@user_app.command("show")
def user_show(
    name: Annotated[str, typer.Argument(help="User name.")],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a user's effective permissions (role defaults + companies + grants) and tokens."""
    user = structured(call("admin", {"operation": "show_user", "name": name}, as_user=as_user))
    if as_json:
        print_json(user)
        return
    table = Table("permission", "value", title=f"{user['name']} ({user['role']})")
    table.columns[1].overflow = "fold"
    for section, values in user["permissions"].items():
        for key, value in values.items():
            table.add_row(f"{section}.{key}", escape(json.dumps(value)))
    console.print(table)
    for t in user["tokens"]:
        state = "revoked" if t["revoked_at"] else "active"
        if t.get("auto_approve"):
            state += ", auto-approves its own calls"
        console.print(f"token {t['id']} {escape(t['name'])} {t['prefix']}... {state}")


@user_app.command("grant")
def user_grant(
    name: Annotated[str, typer.Argument(help="User name.")],
    company: Annotated[
        list[str] | None, typer.Option(help="Company ID or ID:read / ID:write (repeatable).")
    ] = None,
    revoke: Annotated[
        list[str] | None, typer.Option(help="Company ID to remove access to (repeatable).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Permission override KEY=VALUE (VALUE is JSON or a bare word), e.g. "
            "code_execution.languages='[\"python\"]' or tools.code=none; KEY=null removes "
            "it (repeatable).",
        ),
    ] = None,
    role: Annotated[str | None, typer.Option(help="Change the role.")] = None,
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="Let the user act, or not.")
    ] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a user's role, company access, permission overrides or active state.

    Every change is applied in one transaction: a bad value leaves the user as it was.
    """
    if not (company or revoke or set_ or role or active is not None):
        fail("Nothing to change: give --company, --revoke, --set, --role or --active/--inactive")
    params: dict[str, Any] = {"operation": "update_user", "name": name}
    if company:
        params["companies"] = _companies(company)
    if revoke:
        params["revoke"] = revoke
    if set_:
        params["grants"] = dict(_parse_override(item) for item in set_)
    if role is not None:
        params["role"] = role
    if active is not None:
        params["active"] = active
    _show_users([structured(call("admin", params, as_user=as_user))], as_json)


def _parse_override(item: str) -> tuple[str, Any]:
    key, sep, raw = item.partition("=")
    if not sep or not key:
        fail(f"Invalid --set {item!r}: expected KEY=JSON, e.g. data_access.sensitive_data=true")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw  # a bare word such as tools.code=none


@user_app.command("token")
def user_token(
    name: Annotated[str, typer.Argument(help="User name.")],
    token_name: Annotated[str, typer.Option("--name", help="Label for the token.")] = "cli",
    auto_approve: Annotated[
        bool,
        typer.Option(
            "--auto-approve",
            help="Requests with this token may approve their own calls that need approval "
            "(HTTP: ?approve=true). Off by default: such calls wait for a decision.",
        ),
    ] = False,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a new API token for a user (shown once; only its hash is stored)."""
    params: dict[str, Any] = {"operation": "issue_token", "name": name, "token_name": token_name}
    if auto_approve:
        params["auto_approve"] = True
    issued = structured(call("admin", params, as_user=as_user))
    if as_json:
        print_json(issued)
        return
    console.print(issued["token"], highlight=False, soft_wrap=True)


@user_app.command("revoke-token")
def user_revoke_token(
    name: Annotated[str, typer.Argument(help="User name.")],
    token_id: Annotated[int, typer.Argument(help="Token id (see `masterai user show`).")],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke one of a user's API tokens (it stops working at once)."""
    params = {"operation": "revoke_token", "name": name, "token_id": token_id}
    result = call("admin", params, as_user=as_user)
    if as_json:
        print_json(structured(result))
        return
    console.print(summary_of(result), markup=False, highlight=False)


# --- companies -----------------------------------------------------------------------


@company_app.command("add")
def company_add(
    company_id: Annotated[str, typer.Argument(metavar="ID", help="Slug such as acme.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a company."""
    params = {"operation": "add_company", "company_id": company_id, "company_name": name}
    result = call("admin", params, as_user=as_user)
    if as_json:
        print_json(structured(result))
        return
    console.print(summary_of(result), markup=False, highlight=False)


@company_app.command("list")
def company_list(as_user: AsOption = None, as_json: JsonOption = False) -> None:
    """List companies."""
    companies = structured(call("admin", {"operation": "list_companies"}, as_user=as_user))
    if as_json:
        print_json(companies)
        return
    table = Table("id", "name", "created")
    table.columns[1].overflow = "fold"
    for c in companies:
        table.add_row(c["id"], escape(c["name"]), c["created_at"][:16].replace("T", " "))
    console.print(table)
