"""The ``clock`` reference tool: current time, cancellable sleep and alarms."""

from ai_tool.clock.clock_ai_tool import ClockAITool

__all__ = ["ClockAITool"]
