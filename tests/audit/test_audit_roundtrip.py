"""Hashes survive the database round trip for any JSON-like params (property test)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from masterai.audit import AuditEntry, AuditLog, MemoryCheckpoints, MemoryKeys
from masterai.store import Database

# Hypothesis runs many examples on one database: they share its key and checkpoint, as the
# processes of one installation do.
_SHARED: dict[str, tuple[MemoryKeys, list[MemoryCheckpoints]]] = {}


def log_of(database: Database) -> AuditLog:
    keys, checkpoints = _SHARED.setdefault(database.url, (MemoryKeys(), [MemoryCheckpoints()]))
    return AuditLog(database, keys=keys, checkpoints=checkpoints)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(params=st.dictionaries(st.text(max_size=10), json_values, max_size=5), text=st.text())
def test_any_params_and_text_verify_after_being_stored(
    database: Database, params: dict[str, Any], text: str
) -> None:
    log = log_of(database)
    log.append(
        AuditEntry(
            tool="t",
            status="failed",
            params=params,
            error=text or None,
            result_summary=text,
            user_name=text[:100] or None,
            duration_ms=0.1 + 0.2,
        )
    )
    report = log.verify()
    assert report.ok, report.reason


def test_overlong_and_nul_values_fit_their_columns(database: Database) -> None:
    log = AuditLog(database)
    record = log.append(
        AuditEntry(
            tool="t" * 500,
            operation="o\x00p",
            status="ok",
            request_id="r" * 200,
            user_name="u" * 300,
            client_address="c" * 100,
            company_id="x" * 100,
            params={"s": "a\x00b"},
        )
    )
    assert (len(record.tool), len(record.request_id or ""), len(record.user_name or "")) == (
        128,
        64,
        128,
    )
    assert record.operation == "o\ufffdp"
    assert log.verify().ok
