"""How a command acts: one :class:`~masterai.app.Platform`, and every action a registry call.

The CLI is a local client: it acts as the local super admin that ``masterai init`` created
(``MASTERAI_REGISTRY__LOCAL_ADMIN``, default ``admin``), or as the user named by ``--as``.
Every call is audited with the client address ``cli:LOGIN@HOST``; calls refused before they
reach the tool (an unknown ``--as`` user, malformed ``--args``) are audited too.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from masterai.cli.common import CLIError, console, fail, print_json

if TYPE_CHECKING:
    from masterai.app import Platform
    from masterai.registry import ApprovalRequest, Approver, ExecutionContext, ToolResult
    from masterai.settings import Settings

_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

AsOption = Annotated[
    str | None,
    typer.Option("--as", help="Act as this user (default: the local super admin)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
YesOption = Annotated[bool, typer.Option("--yes", help="Approve without asking.")]

EXIT_FAILED = 1
"""The call ran and failed (tool error, time limit), or what it ran failed (a program, tests)."""
EXIT_INVALID = 2
"""Bad input: a usage error, invalid arguments, an unknown tool or company."""
EXIT_DENIED = 3
"""Refused: not permitted, an unknown ``--as`` user, or not approved."""

_EXIT_BY_STATUS = {"invalid": EXIT_INVALID, "not_found": EXIT_INVALID, "denied": EXIT_DENIED}


def load_settings() -> Settings:
    """The settings from the environment, with one clear line on a bad value."""
    from pydantic import ValidationError

    from masterai.settings import Settings

    try:
        return Settings()
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        fail(f"Invalid setting {where}: {first['msg']} (value {first.get('input')!r})")


_current: list[Platform] = []


def platform(*, warm_sandboxes: bool = False) -> Platform:
    """The platform of the running command (built on first use; the database opens on use).

    ``warm_sandboxes``: keep the sandbox pools started ahead of runs (docs/sandbox.md) for a
    long-running command (``worker``, ``mcp``); a one-shot command runs its code at once and
    would only pay for starting them, so it turns them off unless they are set explicitly.
    """
    if not _current:
        from masterai.app import Platform

        settings = load_settings()
        if not warm_sandboxes:
            sandbox = settings.sandbox
            off = {
                name: 0
                for name in ("warm_python", "warm_node", "warm_containers")
                if name not in sandbox.model_fields_set
            }
            settings.sandbox = sandbox.model_copy(update=off)
        _current.append(Platform(settings))
    return _current[0]


def close_platform() -> None:
    """Close the running command's platform (its pooled connections), if it was built."""
    while _current:
        _current.pop().close()


def open_platform(*, warm_sandboxes: bool = False) -> Platform:
    """:func:`platform` with its database open, failing with one line if it cannot be."""
    from masterai.store import StoreError

    current = platform(warm_sandboxes=warm_sandboxes)
    try:
        current.database  # noqa: B018 - opening (and migrating) is the point
    except StoreError as e:
        fail(str(e))
    return current


def cli_client_address() -> str:
    """The audit ``client_address`` of a CLI call: ``cli:USER@HOST``.

    Over SSH the remote address (from ``SSH_CLIENT``) comes first, so it survives the
    column's 64-character limit: ``203.0.113.7 cli:ann@box``.
    """
    import getpass
    import os
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name for this uid (containers)
        user = str(os.getuid())
    local = f"cli:{user}@{socket.gethostname()}"
    ssh = os.environ.get("SSH_CLIENT", "").split()
    return f"{ssh[0]} {local}" if ssh else local


async def _ask(request: ApprovalRequest) -> bool:
    """Show what a call will do and ask on the terminal."""
    console.print(f"{request.reason}.", markup=False, highlight=False)
    if request.preview:
        console.print(request.preview, markup=False, highlight=False)
    effects = ", ".join(sorted(e.replace("_", " ") for e in request.effects))
    console.print(f"It {effects}.", markup=False, highlight=False)
    return typer.confirm("Proceed?", default=False)


def cli_approver(yes: bool) -> Approver | None:
    """``--yes`` approves; else a terminal is asked; else nothing is approved."""
    from masterai.registry import approve_all

    if yes:
        return approve_all
    return _ask if sys.stdin.isatty() else None


def acting_context(
    as_user: str | None,
    *,
    company: str | None = None,
    approver: Approver | None = None,
    tool: str = "(cli)",
) -> ExecutionContext:
    """The context of a call as ``--as USER`` (or the local super admin) from this CLI.

    An unknown or blank ``--as`` is refused with one line and one audit record (of ``tool``,
    the tool the command was about to call).
    """
    from masterai.registry import CallRequest, PermissionDenied
    from masterai.security import AuthenticationError, unauthenticated_principal

    current = open_platform()
    address = cli_client_address()
    if as_user is not None and not as_user.strip():
        claimed, problem = repr(as_user), "--as must name a user; it was blank"
    else:
        try:
            principal = current.principal(as_user)
        except AuthenticationError as e:
            if as_user is None:
                fail(
                    f"No local super admin {current.settings.registry.local_admin!r}: "
                    "run `masterai init` first"
                )
            claimed, problem = as_user, str(e)
        else:
            return current.context(
                principal, company_id=company, client_address=address, approver=approver
            )
    context = current.context(unauthenticated_principal(claimed), client_address=address)
    request = CallRequest(tool_name=tool, params={}, context=context)
    rejected = current.call_rejection(request, PermissionDenied(problem))
    raise CLIError(f"denied: {problem} (audit record {rejected.audit_id})", exit_code=EXIT_DENIED)


def call(
    tool: str,
    params: dict[str, Any],
    *,
    as_user: str | None,
    company: str | None = None,
    yes: bool = False,
    context: ExecutionContext | None = None,
    check: bool = True,
) -> ToolResult:
    """One registry call from a command.

    With ``check`` (the default) a failed call ends the command with one line and the exit
    status of :func:`status_code`.
    """
    context = context or acting_context(
        as_user, company=company, approver=cli_approver(yes), tool=tool
    )
    result = platform().call_sync(tool, params, context)
    if check and not result.ok:
        raise_failure(result, yes=yes)
    return result


def call_given(
    tool: str,
    params: dict[str, Any],
    *,
    as_user: str | None,
    company: str | None = None,
    yes: bool = False,
    context: ExecutionContext | None = None,
) -> ToolResult:
    """:func:`call` with the options that were not given (``None``) left out of ``params``."""
    present = {k: v for k, v in params.items() if v is not None}
    return call(tool, present, as_user=as_user, company=company, yes=yes, context=context)


def status_code(result: ToolResult) -> int:
    """The exit status of a failed call: by its status (0 for a successful one)."""
    if result.ok:
        return 0
    return _EXIT_BY_STATUS.get(result.status, EXIT_FAILED)


def raise_failure(result: ToolResult, *, yes: bool = False) -> None:
    """End the command with the failed ``result`` on one line and its exit status."""
    hint = ""
    if result.status == "denied" and not yes and "Authorization denied" in (result.error or ""):
        hint = "; pass --yes to approve it"
    raise CLIError(
        f"{result.status}: {result.error} (audit record {result.audit_id}){hint}",
        exit_code=status_code(result),
    )


def refuse_arguments(tool: str, raw: Any, problem: str, *, as_user: str | None) -> None:
    """Refuse a call whose arguments could not even be read: one line, one audit record."""
    from masterai.registry import CallRequest, InvalidArguments

    context = acting_context(as_user, tool=tool)
    request = CallRequest(tool_name=tool, params={"_raw": raw}, context=context)
    rejected = platform().call_rejection(request, InvalidArguments(problem))
    raise CLIError(f"invalid: {problem} (audit record {rejected.audit_id})", exit_code=EXIT_INVALID)


def summary_of(result: ToolResult) -> str:
    """The human summary of a result (``summary`` of Master AI tools, else the text)."""
    data = result.data
    summary = data.get("summary") if isinstance(data, dict) else None
    return summary if isinstance(summary, str) else result.content


def structured(result: ToolResult) -> Any:
    """The structured part of a result (``result`` of Master AI tools, else the data)."""
    data = result.data
    if isinstance(data, dict) and "result" in data and "summary" in data:
        return data["result"]
    return data if data is not None else result.content


def show(result: ToolResult, as_json: bool) -> None:
    """Print the structured result (``--json``) or the human summary."""
    if as_json:
        print_json(structured(result))
    else:
        console.print(summary_of(result), markup=False, highlight=False, soft_wrap=True)


def show_table(
    result: ToolResult,
    as_json: bool,
    columns: Sequence[str],
    row: Callable[[Any], Sequence[str]],
) -> None:
    """Print the items of a listing as a table, ``row`` making each line (``--json``: JSON)."""
    if as_json:
        show(result, True)
        return
    table = Table(*columns)
    for item in structured(result):
        table.add_row(*row(item))
    console.print(table)


def parse_since(value: str) -> datetime:
    """``--since``: an ISO date/time (UTC if no zone) or a relative age like ``30m``, ``2d``."""
    match = _RELATIVE.match(value.strip())
    if match:
        amount, unit = int(match.group(1)), _UNIT[match.group(2)]
        try:
            return datetime.now(UTC) - timedelta(**{unit: amount})
        except OverflowError:
            fail(f"Invalid --since {value!r}: that age reaches before the year 1")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(
            f"Invalid --since {value!r}: use an ISO date/time (2026-01-31, "
            "2026-01-31T12:00:00+00:00) or an age like 30m, 12h, 7d"
        )
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def decode_json_object(value: str, option: str) -> dict[str, Any]:
    """``value`` as a JSON object, or :class:`ValueError` naming ``option`` and the problem.

    The registry's own decoding (:func:`masterai.registry.arguments.decode_arguments`): a
    duplicate key, ``NaN`` or anything but an object is refused.
    """
    from masterai.registry.arguments import decode_arguments
    from masterai.registry.errors import InvalidArguments

    try:
        return decode_arguments(value, option)
    except InvalidArguments as e:
        raise ValueError(str(e)) from e


def json_object_option(value: str, option: str) -> dict[str, Any]:
    """``value`` as a JSON object, or end the command with one line naming ``option``."""
    try:
        return decode_json_object(value, option)
    except ValueError as e:
        fail(str(e))
