"""Faults under load: a worker killed, PostgreSQL and Redis restarted while calls run.

Runs ``benchmarks/load.py``'s harness, small, against a private PostgreSQL server and a private
``redis-server`` (the shared ones on 5432 and 6379 are never restarted): ``masterai serve
--workers 2`` and two ``masterai worker`` processes over HTTP from loopback, with tool calls,
code executions on the fleet, agent turns and scheduled runs at once.
"""

from __future__ import annotations

import asyncio
import glob
import shutil
import sys
from pathlib import Path

import pytest

from service_guard import require_service

sys.path.append(str(Path(__file__).resolve().parents[2] / "benchmarks"))
from load import LoadPlan, LoadReport, own_services, run_load

pytestmark = [pytest.mark.slow, pytest.mark.alone]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> LoadReport:
    require_service(bool(glob.glob("/usr/lib/postgresql/*/bin/initdb")), "no PostgreSQL server")
    require_service(shutil.which("redis-server") is not None, "no redis-server")
    require_service(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    tmp = tmp_path_factory.mktemp("faults")
    plan = LoadPlan(
        calls=80, clients=8, executions=10, scheduled=6, turns=2, faults=True, baseline=False
    )
    with own_services(tmp) as services:
        return asyncio.run(run_load(plan, services, tmp))


def test_the_faults_happened_while_the_load_ran(report: LoadReport) -> None:
    assert {"fault: worker killed", "fault: PostgreSQL restarted", "fault: Redis restarted"} <= set(
        report.notes
    )


def test_every_failed_call_failed_with_a_clear_error(report: LoadReport) -> None:
    errors = [e for t in report.tallies for e in t.errors]
    assert all(e.startswith(("http 503 unavailable", "http 422 failed", "http 408 timeout",
                             "turn error")) for e in errors), errors  # fmt: skip
    assert report.checks["every failure was a clear error"]


def test_the_audit_chain_verifies_with_one_record_per_answered_call(report: LoadReport) -> None:
    assert report.checks["audit verify ok"], report.notes["audit verify"]
    assert report.checks["every 200 answer has its own audit record"]
    assert report.checks["no audit record of a call is lost"]


def test_every_scheduled_tick_ran_once_and_the_killed_workers_run_was_retried(
    report: LoadReport,
) -> None:
    assert report.checks["every scheduled tick has one run"]
    assert report.checks["no run left queued or running"], report.notes["runs by status"]
    assert report.checks["each finished run emitted one event"]
    assert report.notes["runs by status"].get("succeeded", 0) >= 6
    assert report.notes["runs retried"] >= 1


def test_calls_succeed_again_after_the_restarts(report: LoadReport) -> None:
    calls = next(t for t in report.tallies if t.kind == "mixed: HTTP tool calls")
    assert calls.ok > 0
