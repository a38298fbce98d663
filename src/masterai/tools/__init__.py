"""The tools layer: ``AITool`` adapters over the services, and the default registry.

:func:`build_registry` is the one place tools are registered. To add a tool, register it there
with its role category (``configuration``, ``analytics``, ``code``, ``integration``, ...).
"""

from __future__ import annotations

from ai_tool.clock import ClockAITool
from ai_tool.filesystem import FilesystemAITool
from masterai.registry import ToolRegistry
from masterai.settings import Settings
from masterai.store import Database


def build_registry(settings: Settings, database: Database) -> ToolRegistry:
    """A :class:`ToolRegistry` with every built-in tool registered.

    The filesystem tool is confined to ``settings.workspace`` (created here if missing).
    """
    registry = ToolRegistry(database, settings=settings.registry)
    registry.register(ClockAITool(), category="clock")
    settings.workspace.mkdir(parents=True, exist_ok=True)
    registry.register(FilesystemAITool(settings.workspace), category="filesystem")
    from masterai.services.analytics import AnalyticsService
    from masterai.services.configs import ConfigurationService

    # The configuration and analytics tools, plus their model-calling operations
    # (test_configuration, compare_configurations, optimize_prompt, benchmark_models).
    from masterai.tools.evaluation import EvaluatingAnalyticsTool, EvaluatingConfigurationTool

    configs = ConfigurationService(database)
    registry.register(EvaluatingConfigurationTool(configs, settings), category="configuration")
    analytics = AnalyticsService(database, settings)
    registry.register(
        EvaluatingAnalyticsTool(analytics, settings.workspace, settings), category="analytics"
    )
    from masterai.sandbox import CodeExecutionEnvironment
    from masterai.tools.code import CodeTool

    registry.register(
        CodeTool(CodeExecutionEnvironment(settings), settings.workspace), category="code"
    )
    return registry


__all__ = ["build_registry"]
