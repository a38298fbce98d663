"""``masterai login-link``: a one-time web console login URL (an ``admin`` tool call)."""

from __future__ import annotations

from typing import Annotated

import typer

from masterai.cli.common import console, print_json
from masterai.cli.context import AsOption, JsonOption, call, structured


def register(app: typer.Typer) -> None:
    """Add the ``login-link`` command to ``app``."""
    app.command("login-link")(login_link)


def login_link(
    user: Annotated[
        str | None,
        typer.Option("--user", help="The user the link logs in (default: the acting user)."),
    ] = None,
    url: Annotated[
        str, typer.Option("--url", help="Where the console is served.")
    ] = "http://127.0.0.1:8000",
    minutes: Annotated[
        int, typer.Option("--minutes", min=1, max=1440, help="How long the link works.")
    ] = 15,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print a one-time console login URL (works once, for --minutes; only its hash is kept).

    The link logs in the acting user (the local super admin, or --as USER), or --user NAME.
    Issuing it is an `admin` tool call: super admins by default, and audited (the secret
    redacted).
    """
    from masterai.cli.context import platform

    name = user or as_user or platform().settings.registry.local_admin
    params = {"operation": "issue_login_link", "name": name, "valid_minutes": minutes}
    issued = structured(call("admin", params, as_user=as_user))
    link = f"{url.rstrip('/')}/login/{issued['secret']}"
    if as_json:
        print_json({"url": link, "user": issued["user"], "expires_at": issued["expires_at"]})
        return
    console.print(link, highlight=False, soft_wrap=True, markup=False)
