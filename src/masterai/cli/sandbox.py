"""Sandbox commands: ``masterai exec`` and ``masterai sandbox ...`` (owned by the sandbox layer).

``masterai exec`` is a face over the ``code`` tool's ``execute_code``: it reads the program
and input files here, makes one audited registry call (permission check, validation, the
caller's code-execution limits), and writes the output files to ``--output-dir`` here.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any

import typer

from masterai.cli.common import console, fail, print_json
from masterai.cli.context import EXIT_INVALID, AsOption, call, structured

if TYPE_CHECKING:
    from masterai.sandbox import ExecutionResult
    from masterai.settings import Settings

sandbox_app = typer.Typer(
    help="Sandboxed code execution: images, diagnostics.", no_args_is_help=True
)


def _load() -> tuple[Settings, str]:
    from masterai.settings import Settings

    settings = Settings()
    return settings, settings.sandbox.backend


def _read_inputs(inputs: list[str]) -> dict[str, str]:
    """``--input NAME=PATH`` (or ``PATH``) as ``name -> base64 content``."""
    files: dict[str, str] = {}
    for item in inputs:
        name, sep, path = item.partition("=")
        if not sep:
            path, name = item, Path(item).name
        files[name] = base64.b64encode(_read_file(Path(path), "--input")).decode("ascii")
    return files


def _read_file(path: Path, option: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        fail(f"Cannot read {option} {str(path)!r}: {e.strerror or e}", exit_code=EXIT_INVALID)


def _read_text(path: Path, option: str) -> str:
    try:
        return _read_file(path, option).decode("utf-8")
    except UnicodeDecodeError as e:
        fail(f"Cannot read {option} {str(path)!r}: not UTF-8 text ({e})", exit_code=EXIT_INVALID)


def _read_program(code: str | None, file: Path | None) -> str:
    if code is not None and file is None:
        return code
    if file is not None and code is None:
        return _read_text(file, "--file")
    fail("Give exactly one of --code TEXT or --file PATH", exit_code=EXIT_INVALID)


def _write_files(output_dir: Path, files: dict[str, bytes]) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        relative = PurePosixPath(name)
        # Names come from the sandbox's collection (relative paths of real files); a result
        # is still data from elsewhere, so never write outside the directory asked for.
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            fail(f"Refusing to write output file {name!r}: not a relative path in --output-dir")
        target = output_dir.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def _execution_result(body: Any) -> tuple[ExecutionResult, int]:
    """The ``code`` tool's structured result as an :class:`ExecutionResult`, and its file count.

    Output file contents are there only when ``include_files`` was asked for.
    """
    from masterai.sandbox import ExecutionResult

    try:
        files = {
            f["name"]: base64.b64decode(f["content_base64"], validate=True)
            for f in body.get("file_contents", [])
        }
        result = ExecutionResult(
            output=body["output"],
            error=body["error"],
            exit_code=body["exit_code"],
            execution_time=body["execution_time"],
            timed_out=body["timed_out"],
            memory_exceeded=body["memory_exceeded"],
            output_truncated=body["output_truncated"],
            files=files,
            backend=body["backend"],
            language=body["language"],
        )
        return result, len(body["files"])
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        fail(f"Unexpected result of the code tool ({type(e).__name__}: {e}): {str(body)[:200]}")


def _print_result(result: ExecutionResult, file_count: int) -> None:
    """The program's output and errors, then one status line on stderr."""
    sys.stdout.write(result.output)
    sys.stdout.flush()
    sys.stderr.write(result.error)
    status = f"exit {result.exit_code} in {result.execution_time:.3f}s ({result.backend})"
    flags = [f for f in ("timed_out", "memory_exceeded", "output_truncated") if getattr(result, f)]
    if flags:
        status += " [" + ", ".join(flags) + "]"
    if file_count:
        status += f", {file_count} output file(s)"
    sys.stderr.write(f"-- {status}\n")


def exec_command(
    language: Annotated[
        str,
        typer.Option("--language", "-l", help="python, javascript, typescript, sql, r or bash."),
    ],
    code: Annotated[str | None, typer.Option("--code", "-c", help="Program text.")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Program file.")] = None,
    timeout: Annotated[float | None, typer.Option(help="Wall-clock seconds (default 30).")] = None,
    memory: Annotated[str | None, typer.Option(help="Memory incl. swap, e.g. 256m.")] = None,
    cpus: Annotated[float | None, typer.Option(help="CPU quota in cores (default 0.5).")] = None,
    network: Annotated[str, typer.Option(help="Only 'none'.")] = "none",
    backend: Annotated[
        str | None, typer.Option(help="bubblewrap or docker (default: the configured one).")
    ] = None,
    inputs: Annotated[
        list[str] | None,
        typer.Option(
            "--input",
            "-i",
            help="Input file NAME=PATH (or PATH), put in the working directory. Repeatable.",
        ),
    ] = None,
    stdin_file: Annotated[Path | None, typer.Option("--stdin", help="File fed to stdin.")] = None,
    output_dir: Annotated[Path | None, typer.Option(help="Write output files here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    as_user: AsOption = None,
) -> None:
    """Run a program in the sandbox; exit with the program's exit status.

    One call of the ``code`` tool, checked against the acting user's code-execution
    permissions and audited. A refused call exits 3, invalid arguments 2.
    """
    params: dict[str, Any] = {
        "operation": "execute_code",
        "language": language,
        "code": _read_program(code, file),
        "network": network,
    }
    optional = {"timeout": timeout, "memory": memory, "cpus": cpus, "backend": backend}
    params.update({k: v for k, v in optional.items() if v is not None})
    if stdin_file is not None:
        params["stdin"] = _read_text(stdin_file, "--stdin")
    if inputs:
        params["files"] = _read_inputs(inputs)
    if as_json or output_dir is not None:
        params["include_files"] = True
    result, file_count = _execution_result(structured(call("code", params, as_user=as_user)))
    if output_dir is not None:
        _write_files(output_dir, result.files)
    if as_json:
        print_json(result.to_json())
    else:
        _print_result(result, file_count)
    raise typer.Exit(result.exit_code)


@sandbox_app.command("build-images")
def build_images_command(
    force: Annotated[bool, typer.Option(help="Rebuild even if up to date.")] = False,
    quiet: Annotated[bool, typer.Option(help="Print only what was built.")] = False,
) -> None:
    """Build the Docker backend's images locally (no registry); skip those up to date."""
    from masterai.sandbox import SandboxError
    from masterai.sandbox.docker import DockerBackend
    from masterai.sandbox.images import build_images

    settings, _ = _load()
    backend = DockerBackend(settings.sandbox)
    try:
        statuses = build_images(
            backend.client,
            settings.sandbox,
            force=force,
            log=lambda m: console.print(f"[dim]{m}[/dim]"),
        )
    except SandboxError as e:
        fail(str(e))
    finally:
        backend.close()
    for language, status in statuses.items():
        if not quiet or status != "up to date":
            console.print(f"{settings.sandbox.image_prefix}-{language}: {status}")


@sandbox_app.command("doctor")
def doctor_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check each backend and runtime on this host; exit 1 if the configured backend fails."""
    from masterai.sandbox import BACKENDS, SandboxError, create_backend
    from masterai.sandbox.runtimes import RUNTIME_NAMES, runtime_path

    settings, configured = _load()
    report: dict[str, str] = {}
    for name in BACKENDS:
        backend = create_backend(name, settings.sandbox)
        try:
            backend.check()
            report[f"backend {name}"] = "ok"
        except SandboxError as e:
            report[f"backend {name}"] = f"unavailable: {e}"
        finally:
            backend.close()
    for name in RUNTIME_NAMES:
        try:
            report[f"runtime {name}"] = f"ok ({runtime_path(settings.sandbox, name)})"
        except SandboxError as e:
            report[f"runtime {name}"] = f"missing: {e}"
    if report["backend docker"] == "ok":
        from masterai.sandbox.docker import DockerBackend
        from masterai.sandbox.images import iter_missing

        docker_backend = DockerBackend(settings.sandbox)
        try:
            missing = list(iter_missing(docker_backend.client, settings.sandbox))
        finally:
            docker_backend.close()
        report["docker images"] = f"missing: {', '.join(missing)}" if missing else "ok"
    if as_json:
        print_json({"configured_backend": configured, "checks": report})
    else:
        console.print(f"configured backend: [bold]{configured}[/bold]")
        for key, value in report.items():
            colour = "green" if value.startswith("ok") else "red"
            console.print(f"  {key:<20} [{colour}]{value}[/{colour}]")
    if report[f"backend {configured}"] != "ok":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the sandbox commands to ``app``."""
    app.command("exec")(exec_command)
    app.add_typer(sandbox_app, name="sandbox")
