"""The console's navigation: every page, present and planned, in one list.

An item is shown when its page is served (its router registered its key with
:attr:`Console.pages`) and the user may call one of the operations it ``needs``. Pages
that later issues add (scripts and runs, webhooks and deliveries, documents, custom tools
and alerts) are declared here already, grouped where they belong; they appear as soon as
their router is included, and only for users who may use their tools.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class NavItem:
    """One entry of the navigation."""

    key: str
    label: str
    path: str
    group: str
    needs: tuple[str, ...] = ()
    """``tool`` or ``tool.operation`` names; the user must be allowed one (none: everyone)."""

    def visible(self, may: Callable[[str, str | None], bool]) -> bool:
        """Whether a user for whom ``may(tool, operation)`` holds sees this item."""
        if not self.needs:
            return True
        for need in self.needs:
            tool, _, operation = need.partition(".")
            if may(tool, operation or None):
                return True
        return False


NAV: tuple[NavItem, ...] = (
    NavItem(key="chat", label="Chat", path="/chat", group="Assistant"),
    NavItem(key="tools", label="Tools", path="/tools", group="Assistant"),
    NavItem(
        key="configurations",
        label="Configurations",
        path="/configurations",
        group="Platform",
        needs=("configuration.list_versions",),
    ),
    NavItem(
        key="playground",
        label="Playground",
        path="/playground",
        group="Platform",
        needs=("configuration.simulate_conversation",),
    ),
    NavItem(
        key="analytics",
        label="Analytics",
        path="/analytics",
        group="Platform",
        needs=("analytics.analyze_conversations",),
    ),
    NavItem(
        key="documents",
        label="Documents",
        path="/documents",
        group="Platform",
        needs=("aidev.list_collections", "aidev.index_documents", "aidev.search_similar"),
    ),
    NavItem(
        key="datasets",
        label="Datasets",
        path="/datasets",
        group="Platform",
        needs=("aidev.list_datasets", "aidev.prepare_training_data"),
    ),
    NavItem(
        key="fine_tunes",
        label="Fine-tunes",
        path="/fine-tunes",
        group="Platform",
        needs=("aidev.list_fine_tune_jobs", "aidev.fine_tune_model"),
    ),
    NavItem(
        key="evaluations",
        label="Model evaluations",
        path="/evaluations",
        group="Platform",
        needs=("aidev.list_model_evaluations", "aidev.evaluate_model"),
    ),
    NavItem(
        key="scripts",
        label="Scripts & runs",
        path="/scripts",
        group="Automation",
        needs=("code.list_runs", "code.create_script"),
    ),
    NavItem(
        key="webhooks",
        label="Webhooks",
        path="/webhooks",
        group="Automation",
        needs=("integration.setup_webhook",),
    ),
    NavItem(
        key="custom_tools",
        label="Custom tools",
        path="/custom-tools",
        group="Automation",
        needs=("registry.create_custom_tool",),
    ),
    NavItem(
        key="alerts",
        label="Alerts",
        path="/alerts",
        group="Automation",
        needs=("registry.list_alerts",),
    ),
    NavItem(
        key="audit",
        label="Audit",
        path="/audit",
        group="Governance",
        needs=("admin.audit_search",),
    ),
    NavItem(
        key="people",
        label="Users & companies",
        path="/people",
        group="Governance",
        needs=("admin.list_users",),
    ),
)
