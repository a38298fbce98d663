"""All Master AI tables, one module per area, on one declarative :class:`Base`.

To add an area, create a module here, import it below, and add an Alembic migration in
``masterai/store/migrations/versions`` on top of the current head.
"""

from masterai.store.models.audit import AuditRecord
from masterai.store.models.automation import Webhook
from masterai.store.models.base import Base, UTCDateTime, utcnow
from masterai.store.models.conversation import Conversation, Message
from masterai.store.models.custom_tools import CustomTool
from masterai.store.models.identity import (
    ApiToken,
    PermissionGrant,
    Role,
    SecurityGeneration,
    User,
    UserCompany,
)
from masterai.store.models.rag import RagChunk, RagCollection, RagDocument
from masterai.store.models.scripts import Script, ScriptRun
from masterai.store.models.tenancy import AIConfiguration, Company, ConfigTemplate
from masterai.store.models.web import ConsoleSession, LoginLink, PendingApproval

__all__ = [
    "AIConfiguration",
    "ApiToken",
    "AuditRecord",
    "Base",
    "Company",
    "ConfigTemplate",
    "ConsoleSession",
    "Conversation",
    "CustomTool",
    "LoginLink",
    "Message",
    "PendingApproval",
    "PermissionGrant",
    "RagChunk",
    "RagCollection",
    "RagDocument",
    "Role",
    "Script",
    "ScriptRun",
    "SecurityGeneration",
    "UTCDateTime",
    "User",
    "UserCompany",
    "Webhook",
    "utcnow",
]


def _import_all_areas() -> None:
    """Import every module of this package so each one's tables join ``Base.metadata``.

    A new area (``store/models/agent.py``) is picked up without editing this file.
    """
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


_import_all_areas()
