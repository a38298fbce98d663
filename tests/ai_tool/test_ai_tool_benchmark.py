"""The dispatch benchmark keeps running and keeps printing its table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "ai_tool_dispatch.py"


def test_the_dispatch_benchmark_prints_its_table_and_ratio():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--calls", "300"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("execute(), type-checked") for line in lines)
    ratio = next(line for line in lines if line.startswith("ratio checked / unchecked"))
    assert float(ratio.split()[-1]) > 0
    assert any(line.startswith("100 tool(s)") for line in lines)


def test_the_benchmark_rejects_too_few_calls():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--calls", "5"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--calls must be at least 100; got 5" in done.stderr
