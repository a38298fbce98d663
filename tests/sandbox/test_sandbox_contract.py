"""The backend contract: the same behaviour on every backend (bubblewrap, docker)."""

from __future__ import annotations

import asyncio
import json

import pytest
from sandbox_helpers import leftovers, run

from masterai.sandbox import (
    CodeExecutionEnvironment,
    CodeExecutionRequest,
    InvalidRequestError,
    LimitExceededError,
    UnsupportedLanguageError,
)

HELLO = {
    "python": ("import sys; print('hello', sys.version_info[:2] >= (3, 11))", "hello True\n"),
    "javascript": ("console.log('hello', [1, 2].map((x) => x * 2).join(','))", "hello 2,4\n"),
    "typescript": (
        "interface P { n: number }\nconst p: P = { n: 21 };\nconsole.log(`hello ${p.n * 2}`);",
        "hello 42\n",
    ),
    "sql": ("SELECT 'hello' AS greeting, 6 * 7 AS answer;", "greeting,answer\nhello,42\n"),
    "r": ("x <- c(1, 2, 3)\ncat('hello', sum(x), '\\n')", "hello 6 \n"),
    "bash": ('name=world; echo "hello $name"', "hello world\n"),
}


async def test_every_language_runs_a_program_and_returns_its_output(
    sandbox: CodeExecutionEnvironment,
) -> None:
    results = await asyncio.gather(*(run(sandbox, code, lang) for lang, (code, _) in HELLO.items()))
    for (lang, (_, expected)), result in zip(HELLO.items(), results, strict=True):
        assert (lang, result.output, result.exit_code) == (lang, expected, 0), result.error
        assert result.ok and not result.timed_out and not result.memory_exceeded
        assert result.backend == sandbox.backend.name and result.language == lang
        assert 0 < result.execution_time < 10
    assert leftovers(sandbox) == []


# Processes, threads, IPC and files, as ordinary programs use them: none needs a call the
# seccomp filter refuses (io_uring, netlink, vsock, the keyring, bpf, perf, userfaultfd).
TYPICAL = {
    "python": (
        "import multiprocessing, socket, subprocess, threading\n"
        "with multiprocessing.Pool(2) as pool: squares = pool.map(abs, [-1, -2, -3])\n"
        "out = subprocess.run(['/bin/echo', 'child'], capture_output=True, text=True).stdout\n"
        "t = threading.Thread(target=print, args=('thread',)); t.start(); t.join()\n"
        "a, b = socket.socketpair(); a.send(b'pair'); print(squares, out.strip(), b.recv(4))",
        "thread\n[1, 2, 3] child b'pair'\n",
    ),
    "javascript": (
        "const cp = require('child_process'), fs = require('fs');\n"
        "const { Worker } = require('worker_threads');\n"
        "fs.writeFileSync('a.json', JSON.stringify([1, 2, 3]));\n"
        "const child = cp.execFileSync('/bin/echo', ['child']).toString().trim();\n"
        "const w = new Worker(\"require('worker_threads').parentPort.postMessage(42)\", "
        "{ eval: true });\n"
        "w.on('message', async (m) => {\n"
        "  const sum = JSON.parse(await fs.promises.readFile('a.json', 'utf8'))"
        ".reduce((a, b) => a + b);\n"
        "  console.log(child, m, sum); w.terminate(); });",
        "child 42 6\n",
    ),
    "typescript": (
        "class Stack<T> { private items: T[] = [];\n"
        "  push(x: T): this { this.items.push(x); return this; }\n"
        "  get size(): number { return this.items.length; } }\n"
        "console.log(new Stack<number>().push(1).push(2).size);",
        "2\n",
    ),
    "sql": ("SELECT sum(x) OVER () AS total FROM range(4) t(x) LIMIT 1;", "total\n6\n"),
    "r": (
        "df <- data.frame(x = 1:10, y = 2 * (1:10) + 1)\n"
        "write.csv(df, 'd.csv', row.names = FALSE)\n"
        "fit <- lm(y ~ x, data = read.csv('d.csv'))\n"
        "cat(round(coef(fit)[['x']]), system('echo child', intern = TRUE), '\\n')",
        "2 child \n",
    ),
    "bash": (
        "seq 1 5 | sort -rn | head -2 | paste -sd, -\n(sleep 0.01 & wait; echo sub)\n"
        'year=$(date +%Y); [ "${#year}" -eq 4 ] && echo year',
        "5,4\nsub\nyear\n",
    ),
}


async def test_typical_programs_of_every_language_run_under_the_seccomp_filter(
    sandbox: CodeExecutionEnvironment,
) -> None:
    results = await asyncio.gather(
        *(run(sandbox, code, lang, timeout=30) for lang, (code, _) in TYPICAL.items())
    )
    for (lang, (_, expected)), result in zip(TYPICAL.items(), results, strict=True):
        assert (lang, result.output, result.exit_code) == (lang, expected, 0), result.error


async def test_python_has_numpy_pandas_and_matplotlib_and_returns_a_plot_file(
    sandbox: CodeExecutionEnvironment,
) -> None:
    code = """
import numpy as np, pandas as pd, matplotlib.pyplot as plt
df = pd.read_csv("sales.csv")
print(int(np.sum(df["amount"])), len(df))
df.plot(x="day", y="amount").get_figure().savefig("chart.png")
df.describe().to_csv("summary.csv")
"""
    result = await run(
        sandbox, code, files={"sales.csv": "day,amount\n1,10\n2,20\n3,12\n"}, timeout=60
    )
    assert result.output == "42 3\n", result.error
    assert result.files["chart.png"].startswith(b"\x89PNG")
    assert result.files["summary.csv"].startswith(b",day,amount")
    assert "sales.csv" not in result.files  # unchanged input files are not output files


async def test_sql_loads_csv_and_json_input_files_as_tables(
    sandbox: CodeExecutionEnvironment,
) -> None:
    files = {
        "orders.csv": "id,customer,total\n1,acme,10.5\n2,acme,4.5\n3,globex,7\n",
        "customers.json": json.dumps([{"name": "acme", "tier": "gold"}]),
    }
    code = """
SELECT o.customer, SUM(o.total) AS total, c.tier
FROM orders o LEFT JOIN customers c ON c.name = o.customer
GROUP BY o.customer, c.tier ORDER BY o.customer;
CREATE TABLE t AS SELECT 1;
SELECT COUNT(*) AS n FROM orders;
"""
    result = await run(sandbox, code, "sql", files=files)
    assert result.output == "customer,total,tier\nacme,15.0,gold\nglobex,7.0,\n\nn\n3\n"
    bad = await run(sandbox, "SELECT * FROM missing_table;", "sql")
    assert bad.exit_code == 1 and "missing_table" in bad.error


async def test_exit_status_stderr_and_stdin_reach_the_caller(
    sandbox: CodeExecutionEnvironment,
) -> None:
    code = (
        "import sys; print(sys.stdin.read().upper()); print('oops', file=sys.stderr); sys.exit(3)"
    )
    result, ts_error = await asyncio.gather(
        run(sandbox, code, stdin="from stdin"),
        run(sandbox, "const x: number = 'not a number';\nconsole.log(x.", "typescript"),
    )
    assert (result.output, result.error, result.exit_code) == ("FROM STDIN\n", "oops\n", 3)
    assert not result.ok
    assert ts_error.exit_code != 0 and "error TS" in ts_error.error


async def test_timeout_is_reported_and_the_program_killed(
    sandbox: CodeExecutionEnvironment,
) -> None:
    result = await run(sandbox, "print('started', flush=True)\nwhile True: pass", timeout=1)
    assert result.timed_out and result.exit_code == 137
    assert result.output == "started\n"
    assert 1 <= result.execution_time < 5
    assert leftovers(sandbox) == []


async def test_memory_limit_is_reported_as_memory_exceeded(
    sandbox: CodeExecutionEnvironment,
) -> None:
    code = "blocks = []\nwhile True: blocks.append(bytearray(8 * 1024 * 1024))"
    result = await run(sandbox, code, memory="64m", timeout=20)
    assert result.memory_exceeded and not result.timed_out
    assert result.exit_code != 0


async def test_a_memory_limit_above_the_default_is_applied(
    sandbox: CodeExecutionEnvironment,
) -> None:
    result = await run(sandbox, "print('big enough')", memory="1g")
    assert (result.output, result.exit_code) == ("big enough\n", 0), result.error


async def test_output_over_the_limit_is_truncated_and_flagged(
    sandbox: CodeExecutionEnvironment,
) -> None:
    code = "import sys; sys.stdout.write('x' * 300_000); sys.stderr.write('y' * 10)"
    result = await run(sandbox, code, output_limit="100k")
    assert result.output_truncated
    assert result.output == "x" * 100 * 1024 and result.error == "y" * 10


async def test_output_files_are_capped_in_number_and_size(
    sandbox: CodeExecutionEnvironment,
) -> None:
    code = """
import os
os.makedirs("sub/deeper")
open("sub/deeper/note.txt", "w").write("deep")
for i in range(40): open(f"f{i:02}.txt", "w").write(str(i))
"""
    result = await run(sandbox, code)
    assert result.output_truncated
    assert len(result.files) == sandbox.settings.max_output_files
    assert result.files["f00.txt"] == b"0"


@pytest.mark.parametrize(
    ("request_kwargs", "error", "fragment"),
    [
        ({"language": "cobol"}, UnsupportedLanguageError, "python, javascript, typescript"),
        ({"timeout": 10_000}, LimitExceededError, "timeout 10000"),
        ({"memory": "64g"}, LimitExceededError, "memory '64g'"),
        ({"memory": "lots"}, InvalidRequestError, "Invalid memory: 'lots'"),
        ({"cpus": -1}, InvalidRequestError, "Invalid cpus: -1"),
        ({"network": "host"}, InvalidRequestError, "Unsupported network: 'host'"),
        ({"files": {"../escape.txt": b"x"}}, InvalidRequestError, "'../escape.txt'"),
    ],
)
async def test_malformed_requests_are_refused_before_running(
    sandbox: CodeExecutionEnvironment,
    request_kwargs: dict[str, object],
    error: type[Exception],
    fragment: str,
) -> None:
    kwargs: dict[str, object] = {"code": "print(1)", "language": "python", **request_kwargs}
    with pytest.raises(error) as info:
        await sandbox.execute_code(CodeExecutionRequest(**kwargs))  # type: ignore[arg-type]
    assert fragment in str(info.value)
    assert leftovers(sandbox) == []


async def test_cpu_quota_slows_a_busy_program(sandbox: CodeExecutionEnvironment) -> None:
    # Burn CPU for 0.6 s of wall clock in two threads; with 0.25 CPU the CPU time the
    # program got must stay near 0.25 * wall clock, far below 2 * wall clock.
    code = """
import os, threading, time
end = time.monotonic() + 0.6
def burn():
    while time.monotonic() < end: pass
ts = [threading.Thread(target=burn) for _ in range(2)]
[t.start() for t in ts]; [t.join() for t in ts]
t = os.times(); print(round((t.user + t.system), 2))
"""
    result = await run(sandbox, code, cpus=0.25)
    assert result.ok, result.error
    assert float(result.output) < 0.6
