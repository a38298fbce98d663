"""Checking that a run of calls wrote one audit record each, and nothing else.

Reading the log once after the run (not counting before and after every call) keeps the
permission tables fast; the check is as strict: the records written since the run began are
exactly the calls' records, in call order, each with the fields the call should have left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from masterai.audit import AuditLog


@dataclass
class AuditTrail:
    """The records a run of calls should leave: ``expect`` after each call, ``check`` at the end."""

    log: AuditLog
    start: int
    """The newest record's id before the run (0: the log was empty)."""
    expected: list[tuple[int | None, dict[str, Any]]] = field(default_factory=list)

    @classmethod
    def begin(cls, log: AuditLog) -> AuditTrail:
        """A trail starting after the newest record of ``log``."""
        head = log.head()
        return cls(log=log, start=head[0] if head else 0)

    def expect(self, audit_id: int | None, **fields: Any) -> None:
        """The call whose result named ``audit_id`` left one record with these fields."""
        self.expected.append((audit_id, fields))

    def check(self) -> None:
        """Every expected record is there, in order, and no other was written."""
        # One more than expected: a record too many shows as a wrong first id.
        written = [r for r in self.log.recent(len(self.expected) + 1) if r.id > self.start]
        assert [r.id for r in written] == [audit_id for audit_id, _ in self.expected]
        wrong = [
            (record.id, fields, {k: getattr(record, k) for k in fields})
            for record, (_, fields) in zip(written, self.expected, strict=True)
            if {k: getattr(record, k) for k in fields} != fields
        ]
        assert wrong == []
