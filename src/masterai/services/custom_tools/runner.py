"""Running a custom tool's code in the sandbox, and checking what it returns.

The code is put in the program file followed by a fixed epilogue; the arguments never touch
the program text: the epilogue reads ``{"calls": [args, ...], "ctx": {...}}`` as JSON on
stdin, calls ``run(args, ctx)`` for each, and prints one marked JSON line with every outcome.
One sandbox process can so serve a batch of calls (the warm path of realtime monitors).

Runs use the *calling* principal's code-execution limits (time, memory, packages, languages)
and never reach a network: the sandbox has none.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema
import sqlalchemy as sa

from masterai.sandbox import (
    CodeExecutionEnvironment,
    CodeExecutionRequest,
    ExecutionResult,
    InvalidRequestError,
    SandboxError,
)
from masterai.security import Principal
from masterai.security.permissions import allows
from masterai.services.custom_tools.spec import ToolSpec
from masterai.services.custom_tools.vocab import (
    CustomToolAccessDenied,
    CustomToolNotFound,
    ToolStatus,
    ToolTrigger,
)
from masterai.store import Database
from masterai.store.models.custom_tools import CustomTool, CustomToolVersion

MARKER = "__MASTERAI_CUSTOM_TOOL_RESULT__"
MAX_BATCH = 500

_PYTHON_EPILOGUE = f"""

def __masterai_main():
    import json as _json, sys as _sys
    _request = _json.load(_sys.stdin)
    _out = []
    for _args in _request["calls"]:
        try:
            _value = _json.loads(_json.dumps(run(_args, _request["ctx"])))
            _out.append({{"ok": True, "value": _value}})
        except BaseException as _e:  # the tool's failure is a result
            _out.append({{"ok": False, "error": f"{{type(_e).__name__}}: {{_e}}"}})
    _sys.stdout.write("\\n{MARKER}" + _json.dumps(_out) + "\\n")

__masterai_main()
"""

_JS_EPILOGUE = f"""
;(async () => {{
  const __input = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const __out = [];
  for (const __args of __input.calls) {{
    try {{
      const __value = await run(__args, __input.ctx);
      __out.push({{ ok: true, value: JSON.parse(JSON.stringify(__value ?? null)) }});
    }} catch (__e) {{
      __out.push({{ ok: false, error: String(__e && __e.stack ? __e.message : __e) }});
    }}
  }}
  process.stdout.write("\\n{MARKER}" + JSON.stringify(__out) + "\\n");
}})();
"""

_EXPORT = re.compile(r"^(\s*)export\s+(?=(async\s+)?function\b|const\b|let\b|class\b)", re.M)
_REFUSALS = (
    (
        "network",
        re.compile(
            r"Network is unreachable|ENETUNREACH|EAI_AGAIN|getaddrinfo|"
            r"Temporary failure in name resolution|Name or service not known|"
            r"Errno 101|Errno -3|ECONNREFUSED|Connection refused",
            re.I,
        ),
    ),
    (
        "host_file",
        re.compile(
            r"No such file or directory: '/(etc|root|home|proc/1|var)|"
            r"ENOENT: no such file or directory, open '/(etc|root|home|var)|"
            r"Permission denied: '/|EACCES",
            re.I,
        ),
    ),
)


@dataclass(frozen=True, kw_only=True)
class RunOutcome:
    """What one call of a custom tool came to. A failing program is an outcome, not an error."""

    ok: bool
    value: Any = None
    """The JSON value ``run`` returned (checked against ``output_schema``)."""
    error: str | None = None
    execution_time: float = 0.0
    """Seconds of the sandbox run (shared by every call of a batch)."""
    refused: tuple[str, ...] = ()
    """What the sandbox refused the code: ``network``, ``host_file``."""


@dataclass(frozen=True, kw_only=True)
class RealtimeTool:
    """An active custom tool with trigger ``realtime``."""

    name: str
    version: int
    owner: str
    companies: tuple[str, ...]


def program(spec: ToolSpec) -> str:
    """The program text run in the sandbox: the tool's code and the fixed epilogue."""
    if spec.language == "javascript":
        return _EXPORT.sub(r"\1", spec.code) + _JS_EPILOGUE
    return spec.code + _PYTHON_EPILOGUE


def refusals(text: str) -> tuple[str, ...]:
    """The kinds of sandbox refusal that ``text`` (an error or stderr) shows."""
    return tuple(kind for kind, pattern in _REFUSALS if pattern.search(text))


def check_output(value: Any, schema: Mapping[str, Any] | None) -> str | None:
    """Why ``value`` does not satisfy ``schema`` (``None``: it does, or there is no schema)."""
    if schema is None:
        return None
    try:
        jsonschema.validate(value, dict(schema))
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "(root)"
        return f"result does not match output_schema at {where}: {e.message}"
    return None


class CustomToolRunner:
    """Runs custom tools' code in the sandbox.

    Args:
        database: where tools and versions are.
        environment: the sandbox (the one ``code.execute_code`` uses), or a function that
            makes it on first use (so building a runner opens nothing).
    """

    def __init__(
        self,
        database: Database,
        environment: CodeExecutionEnvironment | Callable[[], CodeExecutionEnvironment],
    ) -> None:
        self._database = database
        self._make = environment
        self._built: CodeExecutionEnvironment | None = None

    @property
    def _environment(self) -> CodeExecutionEnvironment:
        if self._built is None:
            made = self._make
            self._built = made if isinstance(made, CodeExecutionEnvironment) else made()
        return self._built

    async def run(
        self,
        spec: ToolSpec,
        calls: Sequence[Mapping[str, Any]],
        *,
        principal: Principal,
        name: str,
        company_id: str | None = None,
    ) -> list[RunOutcome]:
        """Run ``spec``'s code once per argument set in ``calls``, in one sandbox process.

        Raises:
            CustomToolAccessDenied: ``principal`` may not run code in the tool's language.
        """
        code = principal.permissions.code_execution
        if not code.enabled:
            raise CustomToolAccessDenied(f"code execution is not enabled for {principal.name!r}")
        if not allows(code.languages, spec.language):
            raise CustomToolAccessDenied(
                f"language {spec.language!r} is not allowed for {principal.name!r}"
            )
        if not calls:
            return []
        if len(calls) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} calls per batch, got {len(calls)}")
        stdin = json.dumps(
            {
                "calls": [dict(c) for c in calls],
                "ctx": {"tool": name, "company_id": company_id, "principal": principal.name},
            }
        )
        limits = self._environment.settings
        request = CodeExecutionRequest(
            code=program(spec),
            language=spec.language,
            stdin=stdin,
            timeout=min(code.max_execution_time, limits.max_timeout),
            memory=min(code.max_memory_bytes, limits.max_memory),
            allowed_packages=sorted(code.allowed_packages),
        )
        try:
            result = await self._environment.execute_code(request)
        except (InvalidRequestError, SandboxError) as e:
            failed = RunOutcome(ok=False, error=f"the sandbox refused the run: {e}")
            return [failed] * len(calls)
        return _outcomes(result, len(calls), spec.output_schema)

    # --- the active versions (what the realtime monitors call) ---------------------------

    def active_spec(self, name: str) -> tuple[ToolSpec, int, str]:
        """The active version of ``name``: its spec, version number and owner.

        Raises:
            CustomToolNotFound: no active tool of that name.
        """
        with self._database.session() as session:
            row = session.execute(
                sa.select(CustomToolVersion, CustomTool.owner)
                .join(CustomTool, CustomTool.id == CustomToolVersion.tool_id)
                .where(
                    CustomTool.name == name,
                    CustomTool.status == ToolStatus.ACTIVE.value,
                    CustomToolVersion.version == CustomTool.active_version,
                )
            ).first()
            if row is None:
                raise CustomToolNotFound(f"no active custom tool named {name!r}")
            version, owner = row
            return spec_of(version), version.version, owner

    async def run_active(
        self,
        tool_name: str,
        arguments: Mapping[str, Any],
        *,
        principal: Principal,
        company_id: str | None = None,
    ) -> RunOutcome:
        """Run the active version of ``tool_name`` once, as ``principal``.

        Raises:
            CustomToolNotFound: no active tool of that name.
            CustomToolAccessDenied: ``principal`` may not run its code.
        """
        outcomes = await self.run_active_batch(
            tool_name, [arguments], principal=principal, company_id=company_id
        )
        return outcomes[0]

    async def run_active_batch(
        self,
        tool_name: str,
        calls: Sequence[Mapping[str, Any]],
        *,
        principal: Principal,
        company_id: str | None = None,
    ) -> list[RunOutcome]:
        """Run the active version of ``tool_name`` once per argument set, in one process."""
        spec, _, _ = await asyncio.to_thread(self.active_spec, tool_name)
        return await self.run(
            spec, calls, principal=principal, name=tool_name, company_id=company_id
        )

    def active_realtime_tools(self, company_id: str) -> list[RealtimeTool]:
        """The active tools with trigger ``realtime`` that watch ``company_id``."""
        with self._database.session() as session:
            rows = session.execute(
                sa.select(CustomTool.name, CustomTool.owner, CustomToolVersion)
                .join(CustomToolVersion, CustomToolVersion.tool_id == CustomTool.id)
                .where(
                    CustomTool.status == ToolStatus.ACTIVE.value,
                    CustomToolVersion.version == CustomTool.active_version,
                    CustomToolVersion.trigger == ToolTrigger.REALTIME.value,
                )
                .order_by(CustomTool.name)
            ).all()
            return [
                RealtimeTool(
                    name=name, version=v.version, owner=owner, companies=tuple(v.companies)
                )
                for name, owner, v in rows
                if company_id in v.companies
            ]


def spec_of(version: CustomToolVersion) -> ToolSpec:
    """The spec a stored version holds."""
    return ToolSpec(
        description=version.description,
        code=version.code,
        parameters=version.parameters,
        language=version.language,
        output_schema=version.output_schema,
        tests=tuple(version.tests),
        trigger=version.trigger,
        schedule=version.schedule,
        timezone=version.timezone,
        companies=tuple(version.companies),
        roles=tuple(version.roles),
    )


def _outcomes(result: ExecutionResult, count: int, schema: Any) -> list[RunOutcome]:
    seconds = result.execution_time
    found = refusals(result.error + result.output)
    marked = [line for line in result.output.splitlines() if line.startswith(MARKER)]
    if not marked or result.timed_out or result.memory_exceeded:
        why = (
            "timed out"
            if result.timed_out
            else "ran out of memory"
            if result.memory_exceeded
            else f"exited with {result.exit_code}: {_tail(result.error or result.output)}"
        )
        failed = RunOutcome(
            ok=False, error=f"the tool's code {why}", execution_time=seconds, refused=found
        )
        return [failed] * count
    try:
        entries = json.loads(marked[-1][len(MARKER) :])
    except json.JSONDecodeError:
        entries = []
    if not isinstance(entries, list) or len(entries) != count:
        bad = RunOutcome(ok=False, error="the tool's code printed a malformed result")
        return [bad] * count
    outcomes = []
    for entry in entries:
        if not entry.get("ok"):
            error = str(entry.get("error"))
            outcomes.append(
                RunOutcome(
                    ok=False,
                    error=error,
                    execution_time=seconds,
                    refused=tuple(sorted(set(found) | set(refusals(error)))),
                )
            )
            continue
        mismatch = check_output(entry.get("value"), schema)
        outcomes.append(
            RunOutcome(
                ok=mismatch is None,
                value=entry.get("value"),
                error=mismatch,
                execution_time=seconds,
                refused=found,
            )
        )
    return outcomes


def _tail(text: str, limit: int = 500) -> str:
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]
