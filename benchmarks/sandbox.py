"""Sandbox latency and throughput, per backend and language, against a bare run.

    .venv/bin/python -P benchmarks/sandbox.py [--runs 20] [--backends bubblewrap,docker]
                                           [--languages python,bash] [--throughput 20]
                                           [--warm-runs 10]

For each backend and language it runs a trivial program ``--runs`` times one after another
and reports p50/p95 latency of ``execute_code`` (everything: validation, queue, run
directory, sandbox, output files), the same program run bare on the host (same interpreter
and runtime, no sandbox), their ratio and the overhead at p50. Then it submits
``--throughput`` programs at once and reports executions per second with the queue at its
default width (``max_concurrent``).

A second table compares Python's paths, for ``print(1)`` and a pandas one-liner: the
bubblewrap backend's warm interpreter (numpy, pandas and matplotlib imported ahead; each run
timed once the pool is full again, so that no interpreter imports on the same cores during
the run; that wait is left off the clock and reported on its own), its cold path
(``warm_python=0``), the Docker backend with containers started ahead (``warm_containers=2``:
the same warm interpreter in each, timed once the pool is full again) and without, and the
same program run bare (``python3 -B``, same
interpreter and runtime). A third table does the same for JavaScript's and TypeScript's
trivial programs: the bubblewrap backend's warm Node.js (started ahead, ``warm_node=2``) and
its cold path, against ``node`` run bare with the same options. Run it as ``python -P`` (or
from another directory): ``benchmarks/csv.py`` would otherwise shadow the standard library's
``csv``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from masterai.sandbox import (
    LANGUAGES,
    CodeExecutionEnvironment,
    CodeExecutionRequest,
    SandboxError,
    create_backend,
)
from masterai.sandbox.languages import CODE_DIR, OPT_DIR, RUNNERS
from masterai.sandbox.runtimes import runners_dir, runtime_dir
from masterai.settings import SandboxSettings

TRIVIAL = {
    "python": "print(1)",
    "javascript": "console.log(1)",
    "typescript": "const n: number = 1; console.log(n)",
    "sql": "SELECT 1 AS n;",
    "r": "cat(1)",
    "bash": "echo 1",
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def host_path(sandbox_path: str, settings: SandboxSettings, code_dir: Path) -> str:
    """The host path of a path inside the sandbox (for the bare run)."""
    if sandbox_path.startswith(CODE_DIR):
        return str(code_dir) + sandbox_path.removeprefix(CODE_DIR)
    if sandbox_path.startswith(RUNNERS):
        return str(runners_dir()) + sandbox_path.removeprefix(RUNNERS)
    if sandbox_path.startswith(OPT_DIR):
        return str(runtime_dir(settings)) + sandbox_path.removeprefix(OPT_DIR)
    return sandbox_path


async def bare_run(language: str, settings: SandboxSettings, runs: int) -> list[float]:
    spec = LANGUAGES[language]
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        code_dir = Path(tmp)
        (code_dir / spec.source).write_text(TRIVIAL[language])
        argv = [host_path(a, settings, code_dir) for a in spec.command]
        env = {
            k: ":".join(host_path(part, settings, code_dir) for part in v.split(":"))
            for k, v in spec.environment.items()
        }
        env["HOME"] = env["TMPDIR"] = tmp
        for _ in range(runs):
            started = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                *argv, cwd=tmp, env=env, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            _out, err = await proc.communicate()
            times.append(time.perf_counter() - started)
            assert proc.returncode == 0, err
    return times


async def sandbox_runs(env: CodeExecutionEnvironment, language: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = await env.execute_code(
            CodeExecutionRequest(code=TRIVIAL[language], language=language)
        )
        times.append(time.perf_counter() - started)
        assert result.ok and result.output.strip().endswith("1"), result
    return times


async def throughput(env: CodeExecutionEnvironment, language: str, count: int) -> float:
    request = CodeExecutionRequest(code=TRIVIAL[language], language=language)
    started = time.perf_counter()
    results = await asyncio.gather(*(env.execute_code(request) for _ in range(count)))
    elapsed = time.perf_counter() - started
    assert all(r.ok for r in results)
    return count / elapsed


PANDAS = "import pandas as pd; print(pd.Series([1, 2, 3]).sum())"


async def bare_python(code: str, settings: SandboxSettings, runs: int) -> list[float]:
    """``python3 -B -c code`` on the host, with the sandbox runtime's packages on its path."""
    site = str(runtime_dir(settings) / "python" / "site-packages")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": site, "MPLBACKEND": "Agg"}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            "/usr/bin/python3", "-B", "-c", code, env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        out, err = await proc.communicate()
        times.append(time.perf_counter() - started)
        assert proc.returncode == 0 and out.strip() in (b"1", b"6"), err
    return times


async def timed_runs(
    env: CodeExecutionEnvironment, code: str, runs: int, warm: bool, language: str = "python"
) -> tuple[list[float], list[float]]:
    """Latencies of ``runs`` runs of ``code``, and (warm) the waits for a ready interpreter."""
    backend = env.backend
    times, refills = [], []
    pool = env.settings.warm_python if language == "python" else env.settings.warm_node
    docker = backend.name == "docker"
    if docker:
        pool = env.settings.warm_containers
    for _ in range(runs):
        if warm:
            if docker:  # its pools are per language
                backend.start_warm(language)  # type: ignore[attr-defined]
            else:
                backend.start_warm()  # type: ignore[attr-defined]
            waited = time.perf_counter()
            # The whole pool ready: no interpreter starting on the same cores meanwhile.
            while backend.warm_ready(language) < pool:  # type: ignore[attr-defined]
                await asyncio.sleep(0.01)
            refills.append(time.perf_counter() - waited)
            before = backend.warm_runs  # type: ignore[attr-defined]
        started = time.perf_counter()
        result = await env.execute_code(CodeExecutionRequest(code=code, language=language))
        times.append(time.perf_counter() - started)
        assert result.ok and result.output.strip() in ("1", "6"), result
        if warm:
            assert backend.warm_runs == before + 1  # type: ignore[attr-defined]
    return times, refills


def environment(
    name: str, settings: SandboxSettings, label: str
) -> CodeExecutionEnvironment | None:
    """An environment on backend ``name``, or None (a table row says why it is unavailable)."""
    try:
        backend = create_backend(name, settings)
        backend.check()
    except SandboxError as e:
        print(f"| {label} | unavailable: {e} |")
        return None
    return CodeExecutionEnvironment(settings, backend=backend)


PATH_COLUMNS = ("p50 ms", "p95 ms", "bare p50 ms", "speed-up vs bare", "refill wait p50 ms")


def paths_table(title: str, runs: int, first: tuple[str, ...]) -> None:
    """Print the head of a warm/cold paths table: ``first`` columns, then the figures."""
    print(f"\n# {title}: {runs} runs per cell, ratio = bare p50 / sandboxed p50 "
          "(above 1: the sandboxed run is faster)")  # fmt: skip
    header = (*first, *PATH_COLUMNS)
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))


def paths_row(
    first: tuple[str, ...], times: list[float], refills: list[float], bare: list[float]
) -> None:
    """Print one row of a paths table (see :func:`paths_table`)."""
    p50, b50 = percentile(times, 0.5), percentile(bare, 0.5)
    wait = f"{percentile(refills, 0.5) * 1000:.0f}" if refills else "-"
    row = (*first, f"{p50 * 1000:.1f}", f"{percentile(times, 0.95) * 1000:.1f}",
           f"{b50 * 1000:.1f}", f"{b50 / p50:.2f}x", wait)  # fmt: skip
    print("| " + " | ".join(row) + " |", flush=True)


async def python_paths(run_dir: Path, runs: int, backends: list[str]) -> None:
    """The second table: Python's warm and cold paths against bare runs."""
    paths_table("Python paths", runs, ("path", "program"))
    paths = [("bubblewrap warm", "bubblewrap", 2), ("bubblewrap cold", "bubblewrap", 0)]
    paths += [("docker warm", "docker", 2), ("docker cold", "docker", 0)]
    settings = SandboxSettings(run_dir=run_dir, cgroup_parent="masterai-sandbox-bench")
    bare = {code: await bare_python(code, settings, runs) for code in ("print(1)", PANDAS)}
    for label, name, pool in paths:
        if name not in backends:
            continue
        settings = SandboxSettings(
            run_dir=run_dir,
            cgroup_parent="masterai-sandbox-bench",
            warm_python=pool,
            warm_node=0,
            warm_containers=pool,
        )
        env = environment(name, settings, label)
        if env is None:
            continue
        for code in ("print(1)", PANDAS):
            warm = pool > 0
            await timed_runs(env, code, 1, warm=warm)  # page cache, images
            times, refills = await timed_runs(env, code, runs, warm=warm)
            program = "print(1)" if code == "print(1)" else "pandas Series sum"
            paths_row((label, program), times, refills, bare[code])
        env.close()


async def node_paths(run_dir: Path, runs: int) -> None:
    """The third table: Node.js languages' warm and cold paths on bubblewrap, against bare."""
    paths_table("Node.js paths (bubblewrap)", runs, ("language", "path"))
    for language in ("javascript", "typescript"):
        await node_language_paths(run_dir, runs, language)


async def node_language_paths(run_dir: Path, runs: int, language: str) -> None:
    """The third table's rows of ``language``."""
    code = TRIVIAL[language]
    settings = SandboxSettings(run_dir=run_dir, cgroup_parent="masterai-sandbox-bench")
    await bare_run(language, settings, 1)
    bare = await bare_run(language, settings, runs)
    for label, pool in (("warm Node.js", 2), ("cold", 0)):
        settings = SandboxSettings(
            run_dir=run_dir, cgroup_parent="masterai-sandbox-bench", warm_python=0, warm_node=pool
        )
        env = environment("bubblewrap", settings, label)
        if env is None:
            return
        await timed_runs(env, code, 1, warm=pool > 0, language=language)
        times, refills = await timed_runs(env, code, runs, warm=pool > 0, language=language)
        paths_row((language, label), times, refills, bare)
        env.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--throughput", type=int, default=20)
    parser.add_argument("--backends", default="bubblewrap,docker")
    parser.add_argument("--languages", default=",".join(LANGUAGES))
    parser.add_argument("--warm-runs", type=int, default=10, help="0: no warm paths tables")
    args = parser.parse_args()
    run_dir = Path(f"/tmp/masterai-sandbox-bench-{os.getpid()}")
    # The first table is the cold path of every language; the warm paths have their own.
    settings = SandboxSettings(
        run_dir=run_dir,
        cgroup_parent="masterai-sandbox-bench",
        warm_python=0,
        warm_node=0,
        warm_containers=0,
    )
    cpu = os.cpu_count()
    print(f"# sandbox benchmark: {cpu} CPUs, {args.runs} runs per cell, throughput over "
          f"{args.throughput} programs with max_concurrent={settings.max_concurrent}")  # fmt: skip
    header = ("backend", "language", "p50 ms", "p95 ms", "bare p50", "bare p95", "ratio p50",
              "overhead p50", "exec/s")  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    bare: dict[str, list[float]] = {}
    for name in args.backends.split(","):
        env = environment(name, settings, name)
        if env is None:
            continue
        for language in args.languages.split(","):
            await sandbox_runs(env, language, 2)  # warm caches (page cache, images)
            if language not in bare:
                await bare_run(language, settings, 2)
                bare[language] = await bare_run(language, settings, args.runs)
            times = await sandbox_runs(env, language, args.runs)
            rate = await throughput(env, language, args.throughput)
            p50, p95 = percentile(times, 0.5), percentile(times, 0.95)
            b50, b95 = percentile(bare[language], 0.5), percentile(bare[language], 0.95)
            row = (name, language, f"{p50 * 1000:.1f}", f"{p95 * 1000:.1f}",
                   f"{b50 * 1000:.1f}", f"{b95 * 1000:.1f}", f"{p50 / b50:.2f}x",
                   f"{(p50 - b50) * 1000:+.1f} ms", f"{rate:.1f}")  # fmt: skip
            print("| " + " | ".join(row) + " |", flush=True)
        env.close()
    if args.warm_runs:
        await python_paths(run_dir, args.warm_runs, args.backends.split(","))
        if "bubblewrap" in args.backends.split(","):
            await node_paths(run_dir, args.warm_runs)
    shutil.rmtree(run_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
