"""Sandbox commands: ``masterai exec`` and ``masterai sandbox ...`` (owned by the sandbox layer)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from masterai.cli.common import console, fail, print_json

if TYPE_CHECKING:
    from masterai.sandbox import ExecutionResult

sandbox_app = typer.Typer(
    help="Sandboxed code execution: images, diagnostics.", no_args_is_help=True
)


def _load(backend: str | None) -> tuple[Any, Any]:
    from masterai.sandbox import BACKENDS
    from masterai.settings import Settings

    settings = Settings()
    if backend is not None and backend not in BACKENDS:
        fail(f"Invalid --backend: {backend!r}. Allowed: {', '.join(BACKENDS)}")
    return settings, backend or settings.sandbox.backend


def _read_inputs(inputs: list[str]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for item in inputs:
        name, sep, path = item.partition("=")
        if not sep:
            path, name = item, Path(item).name
        files[name] = _read_file(Path(path), "--input")
    return files


def _read_file(path: Path, option: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        fail(f"Cannot read {option} {str(path)!r}: {e.strerror or e}")


def _read_program(code: str | None, file: Path | None) -> str:
    if (code is None) == (file is None):
        fail("Give exactly one of --code TEXT or --file PATH")
    if code is not None:
        return code
    assert file is not None
    try:
        return _read_file(file, "--file").decode("utf-8")
    except UnicodeDecodeError as e:
        fail(f"Cannot read --file {str(file)!r}: not UTF-8 text ({e})")


def _write_files(output_dir: Path, files: dict[str, bytes]) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        target = output_dir / name  # names are relative paths of real files, never '..'
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def _print_result(result: ExecutionResult) -> None:
    """The program's output and errors, then one status line on stderr."""
    sys.stdout.write(result.output)
    sys.stdout.flush()
    sys.stderr.write(result.error)
    status = f"exit {result.exit_code} in {result.execution_time:.3f}s ({result.backend})"
    flags = [f for f in ("timed_out", "memory_exceeded", "output_truncated") if getattr(result, f)]
    if flags:
        status += " [" + ", ".join(flags) + "]"
    if result.files:
        status += f", {len(result.files)} output file(s)"
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
    backend: Annotated[str | None, typer.Option(help="bubblewrap or docker.")] = None,
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
) -> None:
    """Run a program in the sandbox; exit with the program's exit status."""
    from masterai.sandbox import CodeExecutionEnvironment, CodeExecutionRequest, SandboxError

    settings, backend_name = _load(backend)
    request = CodeExecutionRequest(
        code=_read_program(code, file),
        language=language,
        timeout=timeout,
        memory=memory,
        cpus=cpus,
        network=network,
        files=_read_inputs(inputs or []),
        stdin=_read_file(stdin_file, "--stdin") if stdin_file is not None else None,
    )
    try:
        env = CodeExecutionEnvironment(settings, backend=backend_name)
        try:
            result = asyncio.run(env.execute_code(request))
        finally:
            env.close()
    except SandboxError as e:
        fail(str(e))
    if output_dir is not None:
        _write_files(output_dir, result.files)
    if as_json:
        print_json(result.to_json())
    else:
        _print_result(result)
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

    settings, _ = _load(None)
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

    settings, configured = _load(None)
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
