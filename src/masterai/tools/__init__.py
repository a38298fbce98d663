"""The tools layer: ``AITool`` adapters over the services, and the default registry.

:func:`register_tools` is the one place tools are registered. To add a tool, register it there
with its role category (``configuration``, ``analytics``, ``code``, ``integration``, ...).
Tools are built on first use, so a call of one tool never loads another's libraries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ai_tool import AITool
from ai_tool.clock import ClockAITool
from masterai.registry import ToolRegistry
from masterai.security import ParameterRole
from masterai.settings import Settings
from masterai.store import Database

if TYPE_CHECKING:
    from collections.abc import Callable

    from masterai.sandbox import CodeExecutionEnvironment, CodeExecutor
    from masterai.services.rag import RagService

    ExecutorFactory = Callable[[CodeExecutionEnvironment], CodeExecutor]

# The seed's filesystem tool declares no roles itself; its paths are workspace paths (for a
# registry that registers it; the built-in ``filesystem`` is masterai.tools.files).
FILESYSTEM_ROLES = {
    "path": ParameterRole.PATH,
    "source": ParameterRole.PATH,
    "destination": ParameterRole.PATH,
}


def register_tools(
    registry: ToolRegistry,
    settings: Settings,
    database: Database,
    *,
    executions: ExecutorFactory | None = None,
) -> None:
    """Register every built-in tool with ``registry`` (built lazily, on first use).

    Args:
        registry: where the tools go.
        settings: the platform settings.
        database: the platform database.
        executions: given the local sandbox, what runs the ``code`` tool's ``execute_code``
            and ``transform_data`` (the composition root passes the worker fleet when
            ``jobs.queue`` is set); default: the local sandbox.
    """
    registry.register(ClockAITool(), category="clock")
    factories = _ToolFactories(registry, settings, database, executions)
    for name in _BUILT_IN:
        registry.register_factory(name, getattr(factories, name), category=name)
    bind_custom_tools(registry, settings, database)


_BUILT_IN = (
    "filesystem",
    "admin",
    "configuration",
    "analytics",
    "code",
    "integration",
    "aidev",
    "registry",
)
"""The built-in tools after ``clock``; :class:`_ToolFactories` builds each by its name."""


class _ToolFactories:
    """One method per built-in tool, building it on first use (imports stay lazy)."""

    def __init__(
        self,
        registry: ToolRegistry,
        settings: Settings,
        database: Database,
        executions: ExecutorFactory | None,
    ) -> None:
        self._registry = registry
        self._settings = settings
        self._database = database
        self._executions = executions
        self._rag: RagService | None = None

    def _rag_service(self) -> RagService:
        # One per registry: test_configuration, the playground and aidev share its indexes.
        from masterai.services.rag import RagService

        if self._rag is None:
            self._rag = RagService.from_settings(self._settings, self._database)
        return self._rag

    def filesystem(self) -> AITool:
        from masterai.security.workspace import WorkspaceService
        from masterai.tools.files import FilesystemTool

        # The company-isolated workspace (docs/workspace.md); the seed's FilesystemAITool
        # stays for library users and declares its roles with FILESYSTEM_ROLES.
        return FilesystemTool(WorkspaceService(self._settings.workspace))

    def admin(self) -> AITool:
        from masterai.security import UserDirectory
        from masterai.tools.admin import AdminTool

        return AdminTool(UserDirectory(self._database), self._registry.audit_log)

    def configuration(self) -> AITool:
        from masterai.services.configs import ConfigurationService
        from masterai.tools.playground import PlaygroundConfigurationTool

        # configuration plus its model-calling operations (test_configuration, ...,
        # simulate_conversation, replay_conversation)
        return PlaygroundConfigurationTool(
            ConfigurationService(self._database),
            self._settings,
            self._database,
            rag=self._rag_service(),
        )

    def analytics(self) -> AITool:
        from masterai.services.analytics import AnalyticsService
        from masterai.tools.evaluation import EvaluatingAnalyticsTool

        settings = self._settings
        return EvaluatingAnalyticsTool(
            AnalyticsService(self._database, settings), settings.workspace, settings
        )

    def code(self) -> AITool:
        from masterai.sandbox import CodeExecutionEnvironment
        from masterai.tools.code_scripts import ScriptingCodeTool

        # execute_code and friends, plus scripts and test suites; tool scripts call back here
        environment = CodeExecutionEnvironment(self._settings)
        executions = self._executions
        return ScriptingCodeTool(
            environment,
            self._settings.workspace,
            database=self._database,
            settings=self._settings,
            call_tool=self._registry.execute_tool,
            executor=executions(environment) if executions is not None else None,
        )

    def integration(self) -> AITool:
        from masterai.tools.integration import IntegrationTool

        return IntegrationTool.from_settings(self._settings, self._database)

    def aidev(self) -> AITool:
        from masterai.tools.aidev import AIDevTool
        from masterai.tools.aidev.parts import build_parts

        return AIDevTool(build_parts(self._settings, self._database, rag=self._rag_service()))

    def registry(self) -> AITool:
        from masterai.tools.registry import RegistryTool
        from masterai.tools.registry.parts import build_parts

        return RegistryTool(build_parts(self._settings, self._database))


def bind_custom_tools(registry: ToolRegistry, settings: Settings, database: Database) -> None:
    """Register active custom tools under their own names, kept in step with the store."""
    from masterai.sandbox import CodeExecutionEnvironment
    from masterai.services.custom_tools import CustomToolRunner, CustomToolService
    from masterai.tools.registry.binder import CustomToolBinder

    runner = CustomToolRunner(database, lambda: CodeExecutionEnvironment(settings))
    registry.add_refresher(
        CustomToolBinder(
            CustomToolService(database), runner, refresh_ms=settings.custom_tools.refresh_ms
        )
    )


def build_registry(
    settings: Settings, database: Database, *, executions: ExecutorFactory | None = None
) -> ToolRegistry:
    """A :class:`ToolRegistry` with every built-in tool registered (see :func:`register_tools`)."""
    from masterai.audit import AuditLog

    audit_log = AuditLog.from_settings(
        database,
        settings.audit,
        home=settings.home,
        max_params_bytes=settings.registry.audit_params_bytes,
    )
    registry = ToolRegistry(database, settings=settings.registry, audit_log=audit_log)
    register_tools(registry, settings, database, executions=executions)
    return registry


__all__ = ["FILESYSTEM_ROLES", "bind_custom_tools", "build_registry", "register_tools"]
