"""The vocabularies of alerts: severities, where an alert comes from, the built-in monitors."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """How serious a finding is (ordered: ``info`` < ``low`` < ... < ``critical``)."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Position in the order (``info`` is 0)."""
        return list(Severity).index(self)


class SourceKind(StrEnum):
    """What raised an alert."""

    CUSTOM_TOOL = "custom_tool"
    """A realtime custom tool returned ``{"alert": true, ...}`` (event ``custom_tool.alert``)."""
    MONITOR = "monitor"
    """A built-in threat monitor (event ``security.alert``)."""


class Monitor(StrEnum):
    """The built-in threat monitors (the ``source`` of their alerts)."""

    DENIED_BURST = "denied_burst"
    """Many denied calls of one principal in a short window."""
    EGRESS_REFUSAL = "egress_refusal"
    """The egress guard refused a destination a call asked for."""
    SANDBOX_REFUSAL = "sandbox_refusal"
    """Sandboxed code tried to open a socket or read secrets and was refused."""
    PROMPT_INJECTION = "prompt_injection"
    """A tool result that reaches the agent carries prompt-injection markers."""
    SECRET_IN_MESSAGE = "secret_in_message"
    """An ingested message contains a credential."""
    NEW_ADDRESS = "new_address"
    """A principal called from a client address never seen for it."""
    UNUSUAL_HOUR = "unusual_hour"
    """A principal called at an hour of day it (almost) never works."""


SEVERITY_OF: dict[Monitor, Severity] = {
    Monitor.DENIED_BURST: Severity.HIGH,
    Monitor.EGRESS_REFUSAL: Severity.MEDIUM,
    Monitor.SANDBOX_REFUSAL: Severity.HIGH,
    Monitor.PROMPT_INJECTION: Severity.HIGH,
    Monitor.SECRET_IN_MESSAGE: Severity.HIGH,
    Monitor.NEW_ADDRESS: Severity.LOW,
    Monitor.UNUSUAL_HOUR: Severity.LOW,
}
"""The severity of each built-in monitor's findings."""
