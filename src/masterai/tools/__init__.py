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

    def filesystem() -> AITool:
        from masterai.security.workspace import WorkspaceService
        from masterai.tools.files import FilesystemTool

        # The company-isolated workspace (docs/workspace.md); the seed's FilesystemAITool
        # stays for library users and declares its roles with FILESYSTEM_ROLES.
        return FilesystemTool(WorkspaceService(settings.workspace))

    def admin() -> AITool:
        from masterai.security import UserDirectory
        from masterai.tools.admin import AdminTool

        return AdminTool(UserDirectory(database), registry.audit_log)

    rag_services: list[RagService] = []

    def rag_service() -> RagService:
        # One per registry: test_configuration and aidev share its vector indexes.
        from masterai.services.rag import RagService

        if not rag_services:
            rag_services.append(RagService.from_settings(settings, database))
        return rag_services[0]

    def configuration() -> AITool:
        from masterai.services.configs import ConfigurationService
        from masterai.tools.playground import PlaygroundConfigurationTool

        # configuration plus its model-calling operations (test_configuration, ...,
        # simulate_conversation, replay_conversation)
        return PlaygroundConfigurationTool(
            ConfigurationService(database), settings, database, rag=rag_service()
        )

    def analytics() -> AITool:
        from masterai.services.analytics import AnalyticsService
        from masterai.tools.evaluation import EvaluatingAnalyticsTool

        return EvaluatingAnalyticsTool(
            AnalyticsService(database, settings), settings.workspace, settings
        )

    def code() -> AITool:
        from masterai.sandbox import CodeExecutionEnvironment
        from masterai.tools.code_scripts import ScriptingCodeTool

        # execute_code and friends, plus scripts and test suites; tool scripts call back here
        environment = CodeExecutionEnvironment(settings)
        return ScriptingCodeTool(
            environment,
            settings.workspace,
            database=database,
            settings=settings,
            call_tool=registry.execute_tool,
            executor=executions(environment) if executions is not None else None,
        )

    def integration() -> AITool:
        from masterai.tools.integration import IntegrationTool

        return IntegrationTool.from_settings(settings, database)

    factories: dict[str, Callable[[], AITool]] = {
        "filesystem": filesystem,
        "admin": admin,
        "configuration": configuration,
        "analytics": analytics,
        "code": code,
        "integration": integration,
    }
    from masterai.tools.aidev.parts import PART_MODULES

    def aidev() -> AITool:
        from masterai.tools.aidev import AIDevTool
        from masterai.tools.aidev.parts import build_parts

        return AIDevTool(build_parts(settings, database, rag=rag_service()))

    if PART_MODULES:  # a tool without operations would be taken for a legacy tool
        factories["aidev"] = aidev

    def registry_tool() -> AITool:
        from masterai.tools.registry import RegistryTool
        from masterai.tools.registry.parts import build_parts

        return RegistryTool(build_parts(settings, database))

    factories["registry"] = registry_tool
    for name, factory in factories.items():
        registry.register_factory(name, factory, category=name)
    bind_custom_tools(registry, settings, database)


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
