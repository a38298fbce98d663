"""``masterai conversations import``, ``masterai demo seed``, ``masterai report generate``.

Each is a registry call (``analytics.import_conversations``, ``admin.seed_demo``,
``analytics.generate_report``), as the local super admin or ``--as USER``. After writing
conversations, the commands also call ``analytics.refresh``, so the first analysis does not
pay for bringing the analytics copy in step.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from masterai.cli.analytics import refresh_copy, scope_params
from masterai.cli.common import console, err_console, fail, print_json
from masterai.cli.context import (
    AsOption,
    JsonOption,
    call,
    open_platform,
    refuse_arguments,
    show,
    structured,
)

conversations_app = typer.Typer(help="Bring conversation data in.", no_args_is_help=True)
demo_app = typer.Typer(help="The synthetic demo data set.", no_args_is_help=True)
report_app = typer.Typer(help="Reports with charts (HTML, Markdown, JSON).", no_args_is_help=True)

_SUFFIX_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


def register(app: typer.Typer) -> None:
    """Add the ``conversations``, ``demo`` and ``report`` command groups to ``app``."""
    app.add_typer(conversations_app, name="conversations")
    app.add_typer(demo_app, name="demo")
    app.add_typer(report_app, name="report")


def _refresh_analytics(as_user: str | None) -> None:
    """Bring the analytics copy in step now, so the first analysis does not pay for it.

    The data is written already, so a refused or failed refresh is a note, not a failure:
    the first analysis then brings the copy in step itself.
    """
    result = refresh_copy(as_user, check=False)
    if not result.ok:
        err_console.print(
            f"note: the analytics copy was not refreshed ({result.status}: {result.error}; "
            f"audit record {result.audit_id}); the first analysis will do it",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


# --- conversations import ----------------------------------------------------------------


def _import_source(
    file: Path, fmt: str | None, params: dict[str, Any], as_user: str | None
) -> dict[str, Any]:
    """Where the tool reads ``file`` from: its workspace ``path``, else its text as ``content``.

    Text larger than the registry's argument limit is refused with one line (and an audit
    record) naming the limit and the workspace alternative.
    """
    current = open_platform()
    workspace = current.settings.workspace.resolve()
    real = file.resolve()
    if real.is_relative_to(workspace):
        return {**params, "path": real.relative_to(workspace).as_posix()}
    if not file.is_file():
        fail(f"no such file: {str(file)!r}", exit_code=2)
    chosen = fmt or _SUFFIX_FORMATS.get(file.suffix.lower())
    if chosen is None:
        fail(
            f"cannot tell the format of {str(file)!r} (suffix {file.suffix!r}); use a .jsonl "
            "or .csv file or give --format jsonl|csv",
            exit_code=2,
        )
    limit = current.settings.registry.max_params_bytes
    size = file.stat().st_size
    if size <= limit:
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            fail(f"{str(file)!r} is not UTF-8 text ({e.reason})", exit_code=2)
        except OSError as e:
            fail(f"cannot read {str(file)!r}: {e}", exit_code=2)
        sent = {**params, "format": chosen, "content": text}
        # measured as the registry measures arguments
        size = len(json.dumps(sent, ensure_ascii=False).encode())
        if size <= limit:
            return sent
    problem = (
        f"{str(file)!r} is too large to send: {size:,} bytes, over the registry's argument "
        f"limit of {limit:,} bytes (MASTERAI_REGISTRY__MAX_PARAMS_BYTES); copy it into the "
        f"workspace ({workspace}) and import it from there, or raise the limit"
    )
    raw = {"operation": params["operation"], "file": str(file), "bytes": size}
    refuse_arguments("analytics", raw, problem, as_user=as_user)
    raise AssertionError("refuse_arguments always raises")


@conversations_app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="A .jsonl or .csv file (see docs/analytics.md).")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="jsonl or csv (default: by suffix).")
    ] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Import the good lines, report the bad ones.")
    ] = False,
    create_companies: Annotated[bool, typer.Option(help="Create unknown companies.")] = False,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import conversations and messages; bad lines are reported with line numbers.

    A file inside the workspace is read there by the tool; any other file is sent as text
    (up to MASTERAI_REGISTRY__MAX_PARAMS_BYTES).
    """
    params: dict[str, Any] = {
        "operation": "import_conversations",
        "skip_bad": skip_bad,
        "create_companies": create_companies,
    }
    if fmt is not None:
        params["format"] = fmt
    params = _import_source(file, fmt, params, as_user)
    with console.status("Importing conversations...", spinner="dots"):
        result = call("analytics", params, as_user=as_user)
    _refresh_analytics(as_user)
    if as_json:
        show(result, as_json=True)
        return
    report = structured(result)
    console.print(
        f"Imported {report['conversations']} conversations, {report['messages']} messages."
    )
    for bad in report["skipped"]:
        console.print(
            f"skipped line {bad['line']}: {bad['message']}", markup=False, highlight=False
        )


# --- demo seed ---------------------------------------------------------------------------


@demo_app.command("seed")
def seed(
    companies: Annotated[int, typer.Option(help="Number of companies.")] = 5,
    conversations: Annotated[int, typer.Option(help="Conversations in total.")] = 4000,
    days: Annotated[int, typer.Option(help="Days of history.")] = 90,
    seed_value: Annotated[int, typer.Option("--seed", help="Random seed.")] = 7,
    end_date: Annotated[str | None, typer.Option(help="Last day (default today, UTC).")] = None,
    replace: Annotated[bool, typer.Option(help="Replace existing demo companies.")] = False,
    as_json: JsonOption = False,
    as_user: AsOption = None,
) -> None:
    """Write a deterministic synthetic data set (same --seed and --end-date: same data)."""
    params: dict[str, Any] = {
        "operation": "seed_demo",
        "demo_companies": companies,
        "conversations": conversations,
        "days": days,
        "seed": seed_value,
        "replace": replace,
    }
    if end_date is not None:
        params["end_date"] = end_date
    with console.status("Seeding the demo data...", spinner="dots"):
        result = call("admin", params, as_user=as_user)
    _refresh_analytics(as_user)
    show(result, as_json)


# --- report generate ---------------------------------------------------------------------


def _write_atomic(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` through a temporary file, so no half report is left."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".report-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@report_app.command("generate")
def generate(
    report_type: Annotated[str, typer.Argument(help="company_summary, comparison or costs.")],
    company: Annotated[
        list[str] | None, typer.Option("--company", "-c", help="Company id (repeat for several).")
    ] = None,
    start: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option(help="Last day, inclusive.")] = None,
    days: Annotated[int | None, typer.Option(help="The last N days.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="html, markdown or json.")] = "html",
    out: Annotated[
        Path | None,
        typer.Option(
            help="Output file (default: the workspace, in companies/ID/reports/ or "
            "users/YOU/reports/; see docs/workspace.md)."
        ),
    ] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write a report with charts and print where it went.

    With ``--out`` the report comes back in the result (nothing is written in the workspace)
    and this command writes it to that file.
    """
    params: dict[str, Any] = {
        "operation": "generate_report",
        "report_type": report_type,
        "format": fmt,
        **scope_params(company, start, end, days),
    }
    if out is not None:
        params["include_content"] = True
    with console.status("Building the report...", spinner="dots"):
        result = call("analytics", params, as_user=as_user)
    report = dict(structured(result))
    if out is None:
        shown = str(open_platform().settings.workspace / report["path"])
    else:
        try:
            _write_atomic(out, report.pop("content"))
        except OSError as e:
            fail(f"cannot write the report to {str(out)!r}: {e}")
        report["path"] = shown = str(out)
    if as_json:
        print_json(report)
        return
    console.print(
        f"Wrote {report['title']} ({report['bytes']:,} bytes) to {shown}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
