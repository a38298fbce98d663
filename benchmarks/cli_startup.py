"""Benchmark the CLI's start-up: one audited ``tool run clock`` and ``--help``, as processes.

Run: ``.venv/bin/python benchmarks/cli_startup.py [--runs 15]``

The baseline, measured in the same run and alternated with the commands, is a bare
interpreter importing what any such CLI needs: ``sqlalchemy.orm``, ``typer`` and ``rich``.
``tool run clock`` does everything a real call does (settings, database at the current
revision, principal, permission check, validation, audit record) in a fresh
``MASTERAI_HOME``. Goals: ``tool run clock`` at most 1.3x the baseline, ``--help`` under 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
BASELINE = [sys.executable, "-c", "import sqlalchemy.orm, typer, rich"]
CLOCK = [str(VENV_BIN / "masterai"), "tool", "run", "clock", "--args", '{"operation": "get_time"}']
HELP = [str(VENV_BIN / "masterai"), "--help"]


def wall(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "MASTERAI_HOME": home, "COLUMNS": "80"}
        env.pop("MASTERAI_DATABASE_URL", None)
        subprocess.run(
            [str(VENV_BIN / "masterai"), "init"], env=env, check=True, stdout=subprocess.DEVNULL
        )
        samples: dict[str, list[float]] = {"baseline": [], "clock": [], "help": []}
        for argv in (BASELINE, CLOCK, HELP):  # warm the file cache once
            wall(argv, env)
        for _ in range(args.runs):
            samples["baseline"].append(wall(BASELINE, env))
            samples["clock"].append(wall(CLOCK, env))
            samples["help"].append(wall(HELP, env))
    base = statistics.median(samples["baseline"])
    print(
        f"# CLI start-up, {args.runs} alternated runs, medians ({platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()})"
    )
    print(f"{'command':<52} {'median s':>9} {'ratio':>7}  goal")
    rows = [
        ("baseline: python -c 'import sqlalchemy.orm, typer, rich'", base, ""),
        ("masterai tool run clock (audited call)", statistics.median(samples["clock"]), "<= 1.3x"),
        ("masterai --help", statistics.median(samples["help"]), "< 0.5 s"),
    ]
    for label, value, goal in rows:
        print(f"{label:<52} {value:>9.3f} {value / base:>6.2f}x  {goal}")
    clock_ratio = statistics.median(samples["clock"]) / base
    help_time = statistics.median(samples["help"])
    print(
        f"tool run clock goal {'met' if clock_ratio <= 1.3 else 'missed'} ({clock_ratio:.2f}x); "
        f"--help goal {'met' if help_time < 0.5 else 'missed'} ({help_time:.3f} s)"
    )


if __name__ == "__main__":
    main()
