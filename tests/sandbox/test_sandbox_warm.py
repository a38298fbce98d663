"""Warm interpreters and containers started ahead: one fresh sandbox per run, same results.

Each test environment keeps one warm interpreter and waits for it (``warm_python_wait``), so
a Python run at the default limits is served warm; ``backend.warm_runs`` and the program's
own view (``'pandas' in sys.modules`` before it imports anything) say which path ran. The
warm Node.js tests wait for a ready Node.js before each JavaScript run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sandbox_helpers import ENVIRONMENTS, leftovers, make_settings, run

from masterai.sandbox import (
    LANGUAGES,
    CodeExecutionEnvironment,
    ExecutionResult,
    SandboxError,
    create_backend,
)
from masterai.sandbox.docker import _close_socket

PRELOADED = "import sys\nprint('pandas' in sys.modules and 'matplotlib.pyplot' in sys.modules)\n"


def _env(backend: str = "bubblewrap", **overrides: object) -> CodeExecutionEnvironment:
    settings = make_settings(**overrides)
    try:
        sandbox = create_backend(backend, settings)
        sandbox.check()
        if backend == "docker":
            sandbox._image("python")  # type: ignore[attr-defined]
    except SandboxError as e:
        pytest.skip(f"{backend} backend unavailable: {e}")
    return CodeExecutionEnvironment(settings, backend=sandbox)


def _kept(env: CodeExecutionEnvironment) -> Iterator[CodeExecutionEnvironment]:
    """``env`` for a module's tests, its ready sandboxes not counted as others' leftovers."""
    ENVIRONMENTS.append(env)
    yield env
    ENVIRONMENTS.remove(env)
    env.close()


@pytest.fixture(scope="module")
def warm() -> Iterator[CodeExecutionEnvironment]:
    """An environment whose Python runs wait (bounded) for a warm interpreter."""
    yield from _kept(_env(warm_python=1, warm_python_wait=120.0))


@pytest.fixture(scope="module")
def cold() -> Iterator[CodeExecutionEnvironment]:
    """The same settings with the warm path turned off."""
    yield from _kept(_env(warm_python=0))


def outcome(result: ExecutionResult) -> tuple[object, ...]:
    """What a program's run gave: output, errors, exit status and files."""
    return (result.output, result.error, result.exit_code, result.files)


def warm_runs(env: CodeExecutionEnvironment) -> int:
    return env.backend.warm_runs  # type: ignore[attr-defined, no-any-return]


async def assert_as_cold(
    warm: CodeExecutionEnvironment,
    cold: CodeExecutionEnvironment,
    code: str,
    language: str = "python",
    start: Any = run,
) -> None:
    """``code`` run warm (by ``start``) gives what it gives run cold, stdin included."""
    before = warm_runs(warm)
    hot = await start(warm, code, language=language, stdin="in")
    assert warm_runs(warm) == before + 1
    plain = await run(cold, code, language=language, stdin="in")
    assert outcome(hot) == outcome(plain)


@pytest.mark.parametrize(("pool", "without"), [("warm", "cold"), ("docker_pool", "docker_cold")])
async def test_a_python_run_takes_a_warm_interpreter_with_the_libraries_loaded(
    pool: str, without: str, request: pytest.FixtureRequest
) -> None:
    warm, cold = request.getfixturevalue(pool), request.getfixturevalue(without)
    before = warm_runs(warm)
    result = await run(warm, PRELOADED)
    assert (result.output, result.error, result.exit_code) == ("True\n", "", 0)
    assert warm_runs(warm) == before + 1
    result = await run(cold, PRELOADED)
    assert result.output == "False\n" and warm_runs(cold) == 0


async def test_the_pool_is_refilled_after_each_run(warm: CodeExecutionEnvironment) -> None:
    before = warm_runs(warm)
    for _ in range(2):  # one interpreter kept: the second run needs its replacement
        result = await run(warm, PRELOADED)
        assert result.output == "True\n"
    assert warm_runs(warm) == before + 2


async def test_nothing_passes_from_one_warm_run_to_the_next(
    warm: CodeExecutionEnvironment,
) -> None:
    before = warm_runs(warm)
    first = await run(
        warm,
        "import os, subprocess, pandas\n"
        "open('/tmp/left', 'w').write('x')\n"
        "os.environ['LEFT'] = '1'\n"
        "pandas.LEFT = 1\n"
        "pandas.Series.sum = lambda self: 'patched'\n"
        "subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
        "print(pandas.Series([1]).sum(), os.getpid())\n",
    )
    assert first.exit_code == 0 and first.output.startswith("patched "), first
    second = await run(
        warm,
        "import os, pandas\n"
        "procs = [open(f'/proc/{p}/cmdline', 'rb').read() for p in os.listdir('/proc')"
        " if p.isdigit()]\n"
        "print(os.path.exists('/tmp/left'), os.environ.get('LEFT'), hasattr(pandas, 'LEFT'),"
        " pandas.Series([1, 2]).sum(), any(b'sleep' in c for c in procs))\n",
    )
    assert second.output == "False None False 3 False\n", second
    assert warm_runs(warm) == before + 2


async def test_warm_runs_are_held_to_their_limits(warm: CodeExecutionEnvironment) -> None:
    before = warm_runs(warm)
    spin = await run(warm, "while True: pass", timeout=1)
    assert spin.timed_out and spin.exit_code == 137
    hog = await run(warm, "b = bytearray(900 * 1024 * 1024)\nprint(len(b))")
    assert hog.memory_exceeded and hog.exit_code == 137 and hog.output == ""
    big = await run(warm, "print('x' * 5000)", output_limit=1000)
    assert big.output_truncated and len(big.output) == 1000
    assert warm_runs(warm) == before + 3


@pytest.mark.parametrize("pool", ["warm", "docker_pool"])
async def test_a_warm_run_gets_its_own_cpu_quota_not_the_start_up_one(
    pool: str, request: pytest.FixtureRequest
) -> None:
    # The interpreter imports at up to the CPU ceiling; the run is held to its 0.5 core.
    env: CodeExecutionEnvironment = request.getfixturevalue(pool)
    before = warm_runs(env)
    spin = (
        "import threading, time, resource\n"
        "def spin():\n    end = time.monotonic() + 1.5\n    while time.monotonic() < end: pass\n"
        "threads = [threading.Thread(target=spin) for _ in range(2)]\n"
        "[t.start() for t in threads]\n[t.join() for t in threads]\n"
        "r = resource.getrusage(resource.RUSAGE_SELF)\nprint(round(r.ru_utime + r.ru_stime, 2))"
    )
    result = await run(env, spin)
    assert result.exit_code == 0 and warm_runs(env) == before + 1, result
    assert float(result.output) <= 0.5 * 1.5 + 0.2  # two cores' worth would be 3 s


async def test_a_run_asking_for_less_than_the_default_memory_starts_cold(
    warm: CodeExecutionEnvironment,
) -> None:
    before = warm_runs(warm)
    result = await run(warm, PRELOADED, memory="128m")
    assert result.output == "False\n" and warm_runs(warm) == before


async def test_a_policy_not_allowing_the_preloaded_packages_starts_cold(
    warm: CodeExecutionEnvironment,
) -> None:
    before = warm_runs(warm)
    seen = await run(warm, "import sys\nprint('pandas' in sys.modules)", allowed_packages=["numpy"])
    assert seen.output == "False\n"  # not even reachable through sys.modules
    refused = await run(warm, "import pandas", allowed_packages=["numpy"])
    assert refused.exit_code == 1 and "not allowed" in refused.error
    assert warm_runs(warm) == before


async def test_a_warm_run_still_enforces_its_policy_on_loaded_modules(
    warm: CodeExecutionEnvironment,
) -> None:
    allowed = ["numpy", "pandas", "matplotlib"]
    before = warm_runs(warm)
    ok = await run(warm, "import pandas as pd\nprint(pd.Series([1, 2, 3]).sum())",
                   allowed_packages=allowed)  # fmt: skip
    assert ok.output == "6\n", ok
    # dateutil is loaded (pandas needs it) but this user may not import it directly.
    loaded = await run(warm, "import sys\nassert 'dateutil' in sys.modules\nimport dateutil",
                       allowed_packages=allowed)  # fmt: skip
    assert loaded.exit_code == 1 and "not allowed" in loaded.error, loaded
    assert "'dateutil'" in loaded.error
    other = await run(warm, "import scipy", allowed_packages=allowed)
    assert other.exit_code == 1 and "not allowed" in other.error
    assert warm_runs(warm) == before + 3


PROGRAMS = [
    "import sys\nprint(sys.argv, sys.path[0], __name__, __file__, sys.stdin.read())",
    "1 / 0",
    "x = (",
    "import sys\nsys.exit(3)",
    "raise SystemExit('bye')",
    "import atexit\natexit.register(print, 'at exit')\nprint('body')",
    "f = open('left-open.txt', 'w')\nf.write('flushed at exit')",
    "import threading, time\n"
    "threading.Thread(target=lambda: (time.sleep(0.2), print('t'))).start()",
    "import os\nprint(sorted(os.environ.items()), os.getcwd())",
    "import os, signal\nprint('before', flush=True)\nos.kill(os.getpid(), signal.SIGTERM)",
    # The imports done ahead are not the program's CPU time.
    "import os, resource, time\nt = os.times()\n"
    "print(t.user + t.system < 0.3, time.process_time() < 0.3,"
    " resource.getrusage(resource.RUSAGE_SELF).ru_utime < 0.3)",
    # The run ends when the program's own process does, not when a copy it forked does.
    "import os, time\nif os.fork() == 0:\n    time.sleep(0.3)\n    print('forked')\n"
    "else:\n    os.wait()\n    print('main')",
    "import os\nprint('unflushed')\nos._exit(4)",
    "import os, sys\nprint('flushed', flush=True)\nos._exit(5)",
    # The status pipe is not the program's subprocesses' to see.
    "import subprocess\nprint(subprocess.run(['ls', '/proc/self/fd'], capture_output=True,"
    " text=True).stdout.split())",
]


@pytest.mark.parametrize("code", PROGRAMS)
async def test_a_warm_run_gives_what_a_cold_run_gives(
    warm: CodeExecutionEnvironment, cold: CodeExecutionEnvironment, code: str
) -> None:
    await assert_as_cold(warm, cold, code)


WRITE_STATUS_PIPE = (
    "import os, time\nprint('before', flush=True)\n"
    "for fd in [int(f) for f in os.listdir('/proc/self/fd') if int(f) > 2]:\n"
    "    try:\n        os.write(fd, {line!r})\n    except OSError:\n        pass\n"
    "time.sleep({sleep})\nprint('after')\n"
)


async def test_a_line_on_the_status_pipe_that_is_no_status_changes_nothing(
    warm: CodeExecutionEnvironment,
) -> None:
    result = await run(warm, WRITE_STATUS_PIPE.format(line=b"junk\n", sleep=0.2))
    assert (result.output, result.exit_code, result.timed_out) == ("before\nafter\n", 0, False)


async def test_a_program_reporting_a_status_itself_only_ends_its_own_run(
    warm: CodeExecutionEnvironment,
) -> None:
    # The status pipe is the program's too (same process): what it can do with it, it could
    # do by exiting. The run ends there, with every process killed and nothing left.
    result = await run(warm, WRITE_STATUS_PIPE.format(line=b"7\n", sleep=30), timeout=20)
    assert (result.output, result.exit_code, result.timed_out) == ("before\n", 7, False)
    assert leftovers(warm) == []


async def test_sql_runs_warm_too(warm: CodeExecutionEnvironment) -> None:
    before = warm_runs(warm)
    result = await run(warm, "SELECT 6 * 7 AS n;", language="sql")
    assert result.exit_code == 0 and "42" in result.output, result
    assert warm_runs(warm) == before + 1


@pytest.fixture(scope="module")
def warm_node() -> Iterator[CodeExecutionEnvironment]:
    """An environment keeping one Node.js started ahead (each run waits until it is ready)."""
    yield from _kept(_env(warm_python=0, warm_node=1))


async def run_js(
    env: CodeExecutionEnvironment, code: str, language: str = "javascript", **kw: Any
) -> ExecutionResult:
    """Run JavaScript (or TypeScript) once a warm Node.js of that language is ready."""
    backend = env.backend
    backend.start_warm()  # type: ignore[attr-defined]
    async with asyncio.timeout(30):
        while backend.warm_ready(language) < 1:  # type: ignore[attr-defined]
            await asyncio.sleep(0.01)
    return await run(env, code, language=language, **kw)


JS_PROGRAMS = [
    "const fs = require('fs');\n"
    "console.log(process.argv, process.execArgv, require.main === module, __filename,"
    " module.paths, fs.readFileSync(0, 'utf8'))",
    "throw new Error('boom')",
    "let x = (",
    "console.log('body'); process.exit(3)",
    "process.exitCode = 4; process.on('exit', (c) => console.log('exit', c))",
    "setTimeout(() => { console.log('later'); process.exit(7) }, 100)",
    "console.log(Object.entries(process.env).sort(), process.cwd(), process.title)",
    "console.log('before'); process.kill(process.pid, 'SIGTERM')",
    "Promise.reject(new Error('unhandled'))",
    "require('fs').writeFileSync('out.txt', 'written')",
    "console.log(require('fs').readdirSync('/proc/self/fd').length)",
    # A forked Node.js gets the program's options (the import guard), and no wait for a go.
    "const fs = require('fs'), cp = require('child_process');\n"
    "fs.writeFileSync('/tmp/child.js', 'console.log(\"child\", process.execArgv)');\n"
    "cp.fork('/tmp/child.js').on('exit', (code) => console.log('child exit', code))",
    "console.log(Object.keys(require.cache), module.children.length)",
    "const _ = require('lodash'), dayjs = require('dayjs');\n"
    "console.log(_.sum([1, 2, 3]), dayjs('2024-01-02').format('YYYY'))",
]


async def test_a_warm_node_run_enforces_the_run_s_package_policy(
    warm_node: CodeExecutionEnvironment,
) -> None:
    # The guard reads the policy after the go, written with this run's program.
    before = warm_runs(warm_node)
    refused = await run_js(warm_node, "require('lodash')", allowed_packages=["dayjs"])
    assert refused.exit_code == 1 and "is not allowed" in refused.error, refused
    allowed = await run_js(
        warm_node, "console.log(require('dayjs')(0).year())", allowed_packages=["dayjs"]
    )
    assert allowed.output == "1970\n", allowed
    free = await run_js(warm_node, "console.log(require('lodash').VERSION.length > 0)")
    assert free.output == "true\n", free
    assert warm_runs(warm_node) == before + 3


async def test_nothing_passes_from_one_warm_node_run_to_the_next(
    warm_node: CodeExecutionEnvironment,
) -> None:
    before = warm_runs(warm_node)
    first = await run_js(
        warm_node,
        "const fs = require('fs'), cp = require('child_process');\n"
        "fs.writeFileSync('/tmp/left', 'x'); globalThis.left = 1; process.env.LEFT = '1';\n"
        "cp.spawn('sleep', ['60'], {detached: true, stdio: 'ignore'}).unref();\n"
        "console.log(process.pid)",
    )
    assert first.exit_code == 0, first
    second = await run_js(
        warm_node,
        "const fs = require('fs');\n"
        "const procs = fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p))"
        ".map((p) => fs.readFileSync(`/proc/${p}/cmdline`, 'utf8'));\n"
        "console.log(fs.existsSync('/tmp/left'), globalThis.left, process.env.LEFT,"
        " procs.some((c) => c.startsWith('sleep')))",
    )
    assert second.output == "false undefined undefined false\n", second
    assert warm_runs(warm_node) == before + 2


async def test_warm_node_runs_are_held_to_their_limits(
    warm_node: CodeExecutionEnvironment,
) -> None:
    before = warm_runs(warm_node)
    spin = await run_js(warm_node, "for (;;) {}", timeout=1)
    assert spin.timed_out and spin.exit_code == 137
    big = await run_js(warm_node, "console.log('x'.repeat(5000))", output_limit=1000)
    assert big.output_truncated and len(big.output) == 1000
    assert warm_runs(warm_node) == before + 2
    # Another storage size needs a sandbox built for it: this run starts cold.
    other = await run_js(warm_node, "console.log(2)", storage="32m")
    assert other.output == "2\n" and warm_runs(warm_node) == before + 2


TS_PROGRAMS = [
    "const n: number = 6 * 7;\nconsole.log(n, process.argv, require.main === module)",
    "const s: string = require('fs').readFileSync(0, 'utf8');\nconsole.log(s.toUpperCase())",
    "let x: number = 'not a number' as unknown as number;\nlet y = (",
    "function f(n: number): never { throw new Error(`boom ${n}`) }\nf(3)",
    "import _ from 'lodash';\nconsole.log(_.sum([1, 2, 3]));\nprocess.exitCode = 5",
    # The compiler loaded ahead is the runner's: the program sees what a cold run sees.
    "console.log(Object.keys(require.cache).filter((k) => !k.includes('/typescript/')))",
]


NODE_CASES = [("javascript", c) for c in JS_PROGRAMS] + [("typescript", c) for c in TS_PROGRAMS]


@pytest.mark.parametrize(("language", "code"), NODE_CASES)
async def test_a_warm_node_run_gives_what_a_cold_run_gives(
    warm_node: CodeExecutionEnvironment, cold: CodeExecutionEnvironment, language: str, code: str
) -> None:
    await assert_as_cold(warm_node, cold, code, language, start=run_js)


async def test_python_runs_do_not_take_a_warm_node(warm_node: CodeExecutionEnvironment) -> None:
    before = warm_runs(warm_node)
    py = await run(warm_node, "print(42)")
    assert py.output == "42\n" and warm_runs(warm_node) == before


PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.savefig('plot.png')\n"


async def test_matplotlib_leaves_no_cache_files_and_prints_no_warning(
    sandbox: CodeExecutionEnvironment,
) -> None:
    result = await run(sandbox, PLOT, timeout=60)
    assert (result.exit_code, result.error) == (0, ""), result
    assert list(result.files) == ["plot.png"]


async def test_matplotlib_preloaded_leaves_no_cache_files_and_prints_no_warning(
    warm: CodeExecutionEnvironment,
) -> None:
    before = warm_runs(warm)
    result = await run(warm, PLOT)
    assert (result.exit_code, result.error, list(result.files)) == (0, "", ["plot.png"]), result
    assert result.files["plot.png"].startswith(b"\x89PNG") and warm_runs(warm) == before + 1


@pytest.fixture(scope="module")
def docker_pool() -> Iterator[CodeExecutionEnvironment]:
    """A Docker environment keeping one container started ahead per language; a Python run
    waits (bounded) for its interpreter's imports."""
    yield from _kept(_env("docker", warm_containers=1, warm_python_wait=120.0))


@pytest.fixture(scope="module")
def docker_cold() -> Iterator[CodeExecutionEnvironment]:
    """The same settings, every container created and started by its run."""
    yield from _kept(_env("docker", warm_containers=0))


async def test_docker_runs_at_the_default_limits_take_a_container_started_ahead(
    docker_pool: CodeExecutionEnvironment,
) -> None:
    before = warm_runs(docker_pool)
    first = await run(docker_pool, "import os\nopen('/tmp/left', 'w').write('x')\nprint(1)")
    second = await run(docker_pool, "import os\nprint(os.path.exists('/tmp/left'))")
    assert (first.output, second.output) == ("1\n", "False\n")
    assert warm_runs(docker_pool) == before + 2
    other = await run(docker_pool, "print(2)", memory="128m")  # not the default: created now
    assert other.output == "2\n" and warm_runs(docker_pool) == before + 2
    spin = await run(docker_pool, "while True: pass", timeout=1)
    assert spin.timed_out and warm_runs(docker_pool) == before + 2  # timeout is a limit too


async def test_a_docker_policy_not_allowing_the_preloaded_packages_starts_cold(
    docker_pool: CodeExecutionEnvironment,
) -> None:
    before = warm_runs(docker_pool)
    seen = await run(
        docker_pool, "import sys\nprint('pandas' in sys.modules)", allowed_packages=["numpy"]
    )
    assert seen.output == "False\n" and warm_runs(docker_pool) == before
    allowed = ["numpy", "pandas", "matplotlib"]
    ok = await run(docker_pool, "import pandas as pd\nprint(pd.Series([1, 2, 3]).sum())",
                   allowed_packages=allowed)  # fmt: skip
    assert ok.output == "6\n" and warm_runs(docker_pool) == before + 1, ok
    other = await run(docker_pool, "import scipy", allowed_packages=allowed)
    assert other.exit_code == 1 and "not allowed" in other.error
    assert warm_runs(docker_pool) == before + 2


DOCKER_PROGRAMS = [("python", code) for code in PROGRAMS] + [
    ("bash", 'echo "$0 $# $(cat)"; echo err >&2; exit 4'),
    ("bash", "env | sort; pwd"),
    ("javascript", "process.stdin.on('data', d => console.log(String(d), process.argv.length))"),
    ("sql", "SELECT 6 * 7 AS n;"),
]


@pytest.mark.parametrize(("language", "code"), DOCKER_PROGRAMS)
async def test_a_docker_run_started_ahead_gives_what_a_cold_run_gives(
    docker_pool: CodeExecutionEnvironment,
    docker_cold: CodeExecutionEnvironment,
    language: str,
    code: str,
) -> None:
    await assert_as_cold(docker_pool, docker_cold, code, language)


async def test_a_docker_run_started_ahead_takes_a_large_stdin_read_or_not(
    docker_pool: CodeExecutionEnvironment,
) -> None:
    # Past what the socket buffers, stdin is sent from a thread: a program that never reads
    # it still ends, and one that does gets all of it.
    big = "x" * 300_000
    before = warm_runs(docker_pool)
    read = await run(docker_pool, "import sys\nprint(len(sys.stdin.read()))", stdin=big)
    ignored = await run(docker_pool, "print('no read')", stdin=big)
    counted = await run(docker_pool, "wc -c", language="bash", stdin=big)
    assert (read.output, ignored.output, counted.output.strip()) == (
        "300000\n",
        "no read\n",
        "300000",
    )
    assert warm_runs(docker_pool) == before + 3


async def _started(env: CodeExecutionEnvironment, language: str) -> Any:
    """A container started ahead for ``language``, ready, taken out of its pool."""
    backend: Any = env.backend
    backend.start_warm(language)
    async with asyncio.timeout(120):
        while backend.warm_ready(language) < 1:
            await asyncio.sleep(0.05)
    return await backend._take(LANGUAGES[language])


def _exited(container: Any) -> tuple[str, int]:
    container.reload()
    state = container.attrs["State"]
    return state["Status"], state["ExitCode"]


@pytest.mark.parametrize(
    ("language", "code"), [("python", "while True: pass"), ("bash", "while :; do :; done")]
)
async def test_a_container_started_ahead_ends_itself_at_its_deadline_from_the_go(
    language: str, code: str
) -> None:
    # The backstop of a run whose host process died: nobody kills it at its timeout, so the
    # container does, at timeout + 2 s counted from the go (not from its start).
    env = _env("docker", warm_containers=1, default_timeout=1.0)
    try:
        ahead = await _started(env, language)
        await asyncio.sleep(3.5)  # longer than the deadline, before the go
        source = LANGUAGES[language].source
        (ahead.workspace.code_dir / source).write_text(code)
        went = time.monotonic()
        ahead.go(LANGUAGES[language], b"")
        async with asyncio.timeout(30):
            while _exited(ahead.container)[0] == "running":
                await asyncio.sleep(0.1)
        assert _exited(ahead.container) == ("exited", 137)
        assert 2.5 <= time.monotonic() - went <= 8
        ahead.discard()
        ahead.workspace.cleanup()
    finally:
        env.close()


async def test_a_container_waiting_for_a_go_ends_when_its_owner_is_gone() -> None:
    # Our attachment ends with our process: its stdin closes, and the waiting process exits.
    env = _env("docker", warm_containers=1)
    try:
        for language in ("python", "bash"):
            ahead = await _started(env, language)
            _close_socket(ahead.sock)
            async with asyncio.timeout(30):
                while _exited(ahead.container)[0] == "running":
                    await asyncio.sleep(0.1)
            assert _exited(ahead.container) == ("exited", 125)
            ahead.discard()
            ahead.workspace.cleanup()
    finally:
        env.close()
