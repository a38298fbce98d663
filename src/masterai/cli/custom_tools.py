"""``masterai custom-tools ...`` and ``masterai catalog ...``: custom tools on demand.

Every command is one call of the ``registry`` tool through the registry (permission check,
validation, approval, audit record), as the local super admin or ``--as USER``. A tool is
defined in a JSON file (the arguments of ``create_custom_tool``); its code may sit in a file
of its own (``--code-file``).
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from masterai.cli.common import console, fail, print_json, read_text
from masterai.cli.context import (
    AsOption,
    JsonOption,
    YesOption,
    call_given,
    json_object_option,
    show,
    show_table,
    structured,
)

custom_tools_app = typer.Typer(
    help="Define custom tools (code run in the sandbox), test, activate, share them.",
    no_args_is_help=True,
)
catalog_app = typer.Typer(
    help="The local catalog of custom tools: publish, search, install for companies.",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(help="The custom tool's name.")]
CodeFileOption = Annotated[
    Path | None, typer.Option("--code-file", help="Read the tool's code from this file.")
]
VersionOption = Annotated[
    int | None, typer.Option("--version", help="A version (default: the newest).")
]


def register(app: typer.Typer) -> None:
    """Add the ``custom-tools`` and ``catalog`` command groups to ``app``."""
    app.add_typer(custom_tools_app, name="custom-tools")
    app.add_typer(catalog_app, name="catalog")


_registry = partial(call_given, "registry")
"""One ``registry`` call; options not given (``None``) are left out."""


def _definition(file: Path | None, code_file: Path | None) -> dict[str, Any]:
    definition: dict[str, Any] = {}
    if file is not None:
        definition = json_object_option(read_text(file, "the definition file"), str(file))
    if code_file is not None:
        definition["code"] = read_text(code_file, "--code-file")
    return definition


@custom_tools_app.command("create")
def create(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSON definition: name, description, parameters, code, language, "
            "output_schema, tests, trigger, schedule, companies, roles."
        ),
    ],
    code_file: CodeFileOption = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Save a custom tool as a draft (version 1); you are its owner."""
    definition = _definition(file, code_file)
    show(
        _registry({"operation": "create_custom_tool", **definition}, as_user=as_user),
        as_json,
    )


@custom_tools_app.command("update")
def update(
    name: NameArg,
    file: Annotated[
        Path | None, typer.Argument(help="JSON of the fields to change (optional).")
    ] = None,
    code_file: CodeFileOption = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Save a new version (earlier ones are kept; the active one stays active)."""
    changes = _definition(file, code_file)
    changes.pop("name", None)
    params = {"operation": "update_custom_tool", **changes, "name": name}
    show(_registry(params, as_user=as_user), as_json)


@custom_tools_app.command("test")
def test(
    name: NameArg,
    version: VersionOption = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a version's tests in the sandbox and report each case."""
    result = _registry(
        {"operation": "test_custom_tool", "name": name, "version": version},
        as_user=as_user,
    )
    if as_json:
        show(result, True)
        return
    report = structured(result)
    table = Table("case", "passed", "failure")
    for case in report["cases"]:
        table.add_row(case["name"], "yes" if case["passed"] else "no", case["failure"] or "")
    console.print(table)
    show(result, False)


@custom_tools_app.command("activate")
def activate(
    name: NameArg,
    version: Annotated[int, typer.Argument(help="The tested version to activate.")],
    yes: YesOption = False,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Activate a tested version (asks for approval, showing the code diff)."""
    params = {"operation": "activate_custom_tool", "name": name, "version": version}
    show(_registry(params, as_user=as_user, yes=yes), as_json)


@custom_tools_app.command("disable")
def disable(name: NameArg, as_user: AsOption = None, as_json: JsonOption = False) -> None:
    """Unregister an active custom tool (its versions are kept)."""
    show(
        _registry({"operation": "disable_custom_tool", "name": name}, as_user=as_user),
        as_json,
    )


@custom_tools_app.command("show")
def show_tool(
    name: NameArg,
    version: VersionOption = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """A custom tool: status, versions, definition, last test report."""
    result = _registry(
        {"operation": "get_custom_tool", "name": name, "version": version},
        as_user=as_user,
    )
    if as_json:
        show(result, True)
        return
    tool = structured(result)
    show(result, False)
    table = Table("version", "author", "created", "tests")
    for v in tool["versions"]:
        table.add_row(str(v["version"]), v["author"], v["created_at"], v["last_test"])
    console.print(table)
    console.print(tool["definition"]["code"], markup=False, highlight=False)


@custom_tools_app.command("list")
def list_tools(
    status: Annotated[
        str | None, typer.Option("--status", help="Only draft, active or disabled tools.")
    ] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the custom tools you may see."""
    result = _registry({"operation": "list_custom_tools", "status": status}, as_user=as_user)
    columns = ("name", "status", "active", "latest", "trigger", "owner", "tests")
    show_table(result, as_json, columns, _tool_row)


def _tool_row(t: dict[str, Any]) -> tuple[str, ...]:
    active = str(t["active_version"] or "-")
    return (
        t["name"],
        t["status"],
        active,
        str(t["latest_version"]),
        t["trigger"],
        t["owner"],
        t["last_test"],
    )


@custom_tools_app.command("remove")
def remove(
    name: NameArg, yes: YesOption = False, as_user: AsOption = None, as_json: JsonOption = False
) -> None:
    """Delete a custom tool with all its versions (asks for approval)."""
    params = {"operation": "delete_custom_tool", "name": name}
    show(_registry(params, as_user=as_user, yes=yes), as_json)


@custom_tools_app.command("export")
def export(
    name: NameArg,
    version: VersionOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the bundle here (default: print).")
    ] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write a signed bundle of a version (manifest, code, schemas, tests, hash, signature).

    Without ``--output`` the bundle itself is printed (as JSON, with or without ``--json``).
    """
    result = _registry(
        {"operation": "export_custom_tool", "name": name, "version": version},
        as_user=as_user,
    )
    bundle = structured(result)
    if output is None:
        print_json(bundle)
        return
    try:
        output.write_text(json.dumps(bundle, indent=2, ensure_ascii=False) + "\n")
    except OSError as e:
        fail(f"cannot write --output {str(output)!r}: {e}")
    if as_json:
        print_json({"path": str(output), "manifest": bundle["manifest"]})
        return
    console.print(
        f"Wrote the bundle of {name!r} version {bundle['manifest']['version']} to {output}"
    )


@custom_tools_app.command("import")
def import_bundle(
    file: Annotated[Path, typer.Argument(help="A bundle 'custom-tools export' wrote.")],
    name: Annotated[
        str | None, typer.Option("--name", help="Save it under this name instead.")
    ] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a bundle's hash and signature and save it as a draft."""
    bundle = json_object_option(read_text(file, "the bundle"), str(file))
    params = {"operation": "import_custom_tool", "bundle": bundle, "name": name}
    show(_registry(params, as_user=as_user), as_json)


@catalog_app.command("publish")
def publish(
    name: NameArg,
    version: Annotated[int, typer.Argument(help="The tested version to publish.")],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Put a tested version in the catalog (super admins)."""
    params = {"operation": "publish_custom_tool", "name": name, "version": version}
    show(_registry(params, as_user=as_user), as_json)


@catalog_app.command("search")
def search(
    query: Annotated[str | None, typer.Argument(help="Words of a name or description.")] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Catalog tools: versions, install counts, which companies run which version."""
    result = _registry({"operation": "search_catalog", "query": query}, as_user=as_user)
    columns = ("name", "versions", "installs", "companies", "description")
    show_table(result, as_json, columns, _catalog_row)


def _catalog_row(item: dict[str, Any]) -> tuple[str, ...]:
    return (
        item["name"],
        ", ".join(str(v["version"]) for v in item["versions"]),
        str(sum(v["install_count"] for v in item["versions"])),
        ", ".join(f"{c}@{v}" for c, v in sorted(item["installs"].items())),
        item["description"],
    )


@catalog_app.command("install")
def install(
    name: NameArg,
    version: Annotated[int, typer.Argument(help="The catalog version.")],
    company: Annotated[
        list[str], typer.Option("--company", help="A company to install it for (repeatable).")
    ],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Install a catalog version for companies, as a draft to test and activate."""
    params = {
        "operation": "install_from_catalog",
        "name": name,
        "version": version,
        "companies": company,
    }
    show(_registry(params, as_user=as_user), as_json)
