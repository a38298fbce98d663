"""The schedule of a custom tool with trigger ``schedule``: a ``tool`` script of its owner.

The scheduler (:mod:`masterai.jobs`) already runs schedules from the database; a scheduled
custom tool gets one script, ``custom-tool.<name>``, whose single registry call is the tool
itself with no arguments, made as the tool's owner (audited like every call). Activating,
disabling or deleting the tool keeps that script in step.
"""

from __future__ import annotations

import json

import sqlalchemy as sa

from masterai.security import AuthenticationError, load_principal
from masterai.services.custom_tools.runner import spec_of
from masterai.services.custom_tools.vocab import ToolStatus, ToolTrigger
from masterai.services.errors import NotFoundError
from masterai.services.scripts import ScheduleSpec, ScriptService, VersionSpec
from masterai.store import Database
from masterai.store.models.custom_tools import CustomTool, CustomToolVersion
from masterai.store.models.scripts import Script

PREFIX = "custom-tool."


def script_name(tool: str) -> str:
    """The name of the script carrying ``tool``'s schedule."""
    return PREFIX + tool


def sync_schedule(database: Database, tool_name: str, *, scripts: ScriptService) -> int | None:
    """Make the schedule script of ``tool_name`` match its active version.

    Returns:
        The script's id (``None``: the tool has no schedule now).
    """
    with database.session() as session:
        tool = session.scalar(sa.select(CustomTool).where(CustomTool.name == tool_name))
        version = (
            session.scalar(
                sa.select(CustomToolVersion).where(
                    CustomToolVersion.tool_id == tool.id,
                    CustomToolVersion.version == tool.active_version,
                )
            )
            if tool is not None and tool.active_version is not None
            else None
        )
        existing = session.scalar(sa.select(Script).where(Script.name == script_name(tool_name)))
        owner = tool.owner if tool is not None else existing.owner if existing else None
    scheduled = (
        tool is not None
        and tool.status == ToolStatus.ACTIVE.value
        and version is not None
        and version.trigger == ToolTrigger.SCHEDULE.value
    )
    if owner is None or (not scheduled and existing is None):
        return None  # nothing to schedule and nothing to remove
    try:
        principal = load_principal(database, owner, active_only=False)
    except AuthenticationError as e:
        raise NotFoundError(f"the owner {owner!r} of {tool_name!r} is not a user") from e
    if not scheduled or version is None:
        if existing is not None:
            scripts.delete(principal, existing.name)
        _link(database, tool_name, None)
        return None
    spec = spec_of(version)
    assert spec.schedule is not None  # checked: trigger schedule needs one
    schedule = ScheduleSpec(cron=spec.schedule, timezone=spec.timezone)
    call = VersionSpec(language="tool", code=json.dumps({"tool": tool_name, "args": {}}))
    if existing is None:
        created = scripts.create(
            principal,
            name=script_name(tool_name),
            version=call,
            description=f"The schedule of custom tool {tool_name!r}",
            schedule=schedule,
        )
        script_id = int(created["id"])
    else:
        scripts.update(principal, existing.name, schedule=schedule)
        scripts.set_enabled(principal, existing.name, True)
        script_id = existing.id
    _link(database, tool_name, script_id)
    return script_id


def _link(database: Database, tool_name: str, script_id: int | None) -> None:
    with database.session(immediate=True) as session:
        session.execute(
            sa.update(CustomTool).where(CustomTool.name == tool_name).values(script_id=script_id)
        )
