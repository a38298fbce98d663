"""``masterai init``, ``masterai db ...``, ``masterai user ...``, ``masterai company ...``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from masterai.cli.common import console, fail, print_json
from masterai.cli.context import load_settings, open_db

if TYPE_CHECKING:
    from masterai.security import UserDirectory, UserInfo

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
user_app = typer.Typer(
    help="Users, their roles, company access and permissions.", no_args_is_help=True
)
company_app = typer.Typer(help="Companies (tenants).", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def register(app: typer.Typer) -> None:
    """Add ``init`` and the ``db``, ``user`` and ``company`` groups to ``app``."""
    app.command("init")(init)
    app.add_typer(db_app, name="db")
    app.add_typer(user_app, name="user")
    app.add_typer(company_app, name="company")


def _directory() -> UserDirectory:
    from masterai.security import UserDirectory

    return UserDirectory(open_db(load_settings()))


def _guard(action: Any) -> Any:
    """Run ``action()``, turning directory errors into one error line."""
    from masterai.security import DirectoryError

    try:
        return action()
    except DirectoryError as e:
        fail(str(e))


def init(
    admin: Annotated[
        str | None, typer.Option(help="Name of the super admin (default: the local admin).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create the database and the first super admin; print its API token once.

    Safe to run again: an existing database is migrated, an existing admin is kept and no new
    token is printed.
    """
    from sqlalchemy.engine import make_url

    from masterai.security import SUPER_ADMIN, DirectoryError, UserDirectory

    settings = load_settings()
    database = open_db(settings)
    settings.workspace.mkdir(parents=True, exist_ok=True)
    name = admin or settings.registry.local_admin
    directory = UserDirectory(database)
    token = None
    try:
        existing = directory.get_user(name)
    except DirectoryError:
        existing = None
    if existing is None:
        _guard(lambda: directory.add_user(name, SUPER_ADMIN, created_by="masterai init"))
        token = directory.create_token(name, token_name="init").token
    elif existing.role != SUPER_ADMIN:
        fail(f"User {name!r} exists with role {existing.role!r}, not {SUPER_ADMIN!r}")
    result = {
        "home": str(settings.home.resolve()),
        "database": make_url(database.url).render_as_string(hide_password=True),
        "admin": name,
        "created": existing is None,
        "token": token,
    }
    if as_json:
        print_json(result)
        return
    if existing is None:
        console.print(f"Created super admin [bold]{name}[/] in {result['home']}")
        console.print("API token (shown once, store it now):")
        console.print(token, highlight=False, soft_wrap=True)
    else:
        console.print(
            f"Already initialised: super admin [bold]{name}[/] exists; database up to date."
        )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (creates the database if needed)."""
    database = open_db(load_settings())
    console.print(f"Database at revision {database.current_revision()}")


# --- users ---------------------------------------------------------------------------


def _parse_companies(values: list[str], default_access: str) -> dict[str, str]:
    companies = {}
    for value in values:
        company, _, access = value.partition(":")
        companies[company] = access or default_access
    return companies


def _show_users(users: list[UserInfo], as_json: bool) -> None:
    if as_json:
        print_json(
            [
                {
                    "name": u.name,
                    "role": u.role,
                    "email": u.email,
                    "active": u.is_active,
                    "companies": u.companies,
                    "grants": u.grants,
                    "created_at": u.created_at.isoformat(),
                }
                for u in users
            ]
        )
        return
    table = Table("name", "role", "active", "companies", "grants")
    for u in users:
        table.add_row(
            u.name,
            u.role,
            "yes" if u.is_active else "no",
            ", ".join(f"{c}:{a}" for c, a in sorted(u.companies.items())) or "-",
            escape(", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(u.grants.items()))) or "-",
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
    as_json: JsonOption = False,
) -> None:
    """Add a user (admins get write access to listed companies, others read)."""
    directory = _directory()
    companies = _parse_companies(company or [], "write" if role == "admin" else "read")
    user = _guard(lambda: directory.add_user(name, role, email=email, companies=companies))
    issued = directory.create_token(name, token_name="cli").token if token else None
    if as_json:
        print_json(
            {"name": user.name, "role": user.role, "companies": user.companies, "token": issued}
        )
        return
    console.print(f"Added {user.role} [bold]{user.name}[/]")
    if issued:
        console.print("API token (shown once):")
        console.print(issued, highlight=False, soft_wrap=True)


@user_app.command("list")
def user_list(as_json: JsonOption = False) -> None:
    """List users with their roles, companies and grants."""
    _show_users(_directory().list_users(), as_json)


@user_app.command("show")
def user_show(
    name: Annotated[str, typer.Argument(help="User name.")],
    as_json: JsonOption = False,
) -> None:
    """Show a user's effective permissions (role defaults + companies + grants)."""
    from masterai.security import AuthenticationError, load_principal

    database = open_db(load_settings())
    try:
        principal = load_principal(database, name)
    except AuthenticationError as e:
        fail(str(e))
    permissions = principal.permissions.to_dict()
    if as_json:
        print_json({"name": principal.name, "role": principal.role, "permissions": permissions})
        return
    table = Table("permission", "value", title=f"{principal.name} ({principal.role})")
    for section, values in permissions.items():
        for key, value in values.items():
            table.add_row(f"{section}.{key}", escape(json.dumps(value)))
    console.print(table)


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
    as_json: JsonOption = False,
) -> None:
    """Change a user's role, company access or permission overrides."""
    directory = _directory()
    if not (company or revoke or set_ or role):
        fail("Nothing to change: give --company, --revoke, --set or --role")
    overrides = [_parse_override(item) for item in set_ or []]
    current = _guard(lambda: directory.get_user(name))
    default_access = "write" if (role or current.role) == "admin" else "read"
    companies = _parse_companies(company or [], default_access)
    # one transaction: a bad value anywhere leaves the user as it was
    user = _guard(
        lambda: directory.update_user(
            name,
            role=role,
            companies=companies,
            revoke=revoke,
            grants=overrides,
            granted_by="cli",
        )
    )
    _show_users([user], as_json)


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
) -> None:
    """Issue a new API token for a user (shown once; only its hash is stored)."""
    directory = _directory()
    issued = _guard(lambda: directory.create_token(name, token_name=token_name))
    console.print(issued.token, highlight=False, soft_wrap=True)


# --- companies -----------------------------------------------------------------------


@company_app.command("add")
def company_add(
    company_id: Annotated[str, typer.Argument(metavar="ID", help="Slug such as acme.")],
    name: Annotated[str, typer.Option(help="Display name.")],
) -> None:
    """Add a company."""
    directory = _directory()
    company = _guard(lambda: directory.add_company(company_id, name))
    console.print(f"Added company [bold]{company.id}[/] ({escape(company.name)})")


@company_app.command("list")
def company_list(as_json: JsonOption = False) -> None:
    """List companies."""
    companies = _directory().list_companies()
    if as_json:
        print_json(
            [
                {"id": c.id, "name": c.name, "created_at": c.created_at.isoformat()}
                for c in companies
            ]
        )
        return
    table = Table("id", "name", "created")
    for c in companies:
        table.add_row(c.id, escape(c.name), c.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)
