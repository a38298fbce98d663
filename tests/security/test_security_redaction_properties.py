"""Property tests: a secret planted anywhere never reaches the audit, a result or scrubbed text.

Each secret carries a *needle*: ``Q`` followed by letters and digits. Filler text never holds
``Q``, so a needle found in an output is a secret that leaked, never a coincidence. Secrets
sit at random depths of random JSON: as the value of a secret key name, as secret-shaped
text inside a string (provider keys, JWTs, PEM blocks, URL passwords, token query parameters,
bearer headers, ``name=value`` assignments), or as a dictionary key.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ai_tool import (
    AITool,
    AIToolCall,
    AIToolDefinition,
    AIToolExecutionError,
    AIToolOperationDefinition,
    AIToolParameter,
    AIToolResult,
)
from masterai.registry import ExecutionContext, ToolRegistry
from masterai.security import Principal, role_defaults, system_principal
from masterai.security.redaction import redact, scrub_text
from masterai.settings import RegistrySettings
from masterai.store import Database
from masterai.store.models import AuditRecord

# --- strategies -------------------------------------------------------------------------------

_BODY = string.ascii_letters + string.digits
needles = st.text(_BODY, min_size=19, max_size=40).map(lambda s: "Q" + s)
upper_needles = st.text(string.ascii_uppercase + string.digits, min_size=15, max_size=15).map(
    lambda s: "Q" + s
)
filler = st.text(st.characters(codec="utf-8", exclude_characters="Q\x00"), max_size=30)
"""Any text without ``Q`` (nor NUL, which PostgreSQL cannot store in text; nor surrogates)."""
separators = st.sampled_from([" ", "\n", "\t", ", ", "; ", " (", ") ", " | "])

_NAMED = [
    "password", "passwd", "pwd", "pass", "passphrase", "secret", "api_key", "apiKey",
    "X-Api-Key", "access_token", "refreshToken", "token", "tokens", "jwt", "credential",
    "credentials", "private_key", "privateKey", "client_secret", "authorization",
    "Authorization", "cookie", "session_id", "signature", "DB_PASSWORD", "AWS_SECRET_ACCESS_KEY",
]  # fmt: skip
_SUFFIXES = ["key", "secret", "token", "password", "pwd", "pass", "jwt"]


@st.composite
def secret_key_names(draw: st.DrawFn) -> str:
    """A key naming a secret: a known name, or ``<word><sep><secret word>`` in some style."""
    if draw(st.booleans()):
        return draw(st.sampled_from(_NAMED))
    word = draw(st.from_regex(r"[a-pr-z]{1,8}", fullmatch=True))
    suffix = draw(st.sampled_from(_SUFFIXES))
    style = draw(st.sampled_from(["snake", "kebab", "dot", "camel", "upper"]))
    if style == "camel":
        return word + suffix.capitalize()
    name = word + {"snake": "_", "kebab": "-", "dot": ".", "upper": "_"}[style] + suffix
    return name.upper() if style == "upper" else name


def _pem(kind: str, needle: str) -> str:
    return (
        f"-----BEGIN {kind}PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n{needle}\n"
        f"-----END {kind}PRIVATE KEY-----"
    )


SHAPES = [
    "sk-{}", "sk-proj-{}", "sk-ant-api03-{}", "sk_live_{}", "sk_test_{}", "rk_live_{}",
    "AIza{}", "ghp_{}", "github_pat_11AB_{}", "xoxb-1234-{}", "glpat-{}", "hf_{}", "mai_{}",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.{}",
    "eyJhbGciOiJIUzI1NiJ9.{}",
    "postgresql://app:{}@db.internal:5432/prod",
    "https://deploy:{}@git.example.com/repo.git",
    "redis://default:{}@cache:6379/0",
    "https://api.example.com/v1/items?page=2&token={}&x=1",
    "https://api.example.com/cb?access_token={}",
    "https://maps.example.com/api?key={}&q=coffee",
    "https://bucket.s3.amazonaws.com/f?X-Amz-Signature={}&X-Amz-Date=1",
    "https://share.example.com/blob?sv=2022&sig={}",
    "https://h.example.com/?api_key={}",
    "Authorization: Bearer {}", "bearer {}", "Authorization: Basic {}",
    "Proxy-Authorization: Digest {}",
]  # fmt: skip
PEM_KINDS = ["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED "]


@st.composite
def secret_texts(draw: st.DrawFn) -> tuple[str, str]:
    """``(text, needle)``: filler around a secret-shaped value or an assignment to a secret."""
    kind = draw(st.sampled_from(["shape", "pem", "aws", "assignment"]))
    needle = draw(upper_needles if kind == "aws" else needles)
    if kind == "aws":
        secret = draw(st.sampled_from(["AKIA", "ASIA"])) + needle
    elif kind == "pem":
        secret = _pem(draw(st.sampled_from(PEM_KINDS)), needle)
    elif kind == "shape":
        secret = draw(st.sampled_from(SHAPES)).format(needle)
    else:
        form = draw(st.sampled_from(["{k}={v}", '"{k}": "{v}"', "{k}: {v}", "'{k}': '{v}'"]))
        secret = form.format(k=draw(secret_key_names()), v=needle)
    return draw(filler) + draw(separators) + secret + draw(separators) + draw(filler), needle


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | filler,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(filler, children, max_size=3),
    max_leaves=12,
)
"""Random JSON without ``Q`` anywhere."""


@st.composite
def planted(draw: st.DrawFn) -> tuple[Any, str]:
    """``(value, needle)``: random JSON with one secret at a random depth (0-6)."""
    where = draw(st.sampled_from(["under_key", "in_text", "in_key"]))
    value: Any
    if where == "under_key":
        needle = draw(needles)
        inner = draw(st.sampled_from([needle, [needle], {"v": needle}, {"a": [1, needle]}]))
        siblings = draw(st.dictionaries(filler, json_values, max_size=3))
        value = {**siblings, draw(secret_key_names()): inner}
    else:
        text, needle = draw(secret_texts())
        value = {text: 1} if where == "in_key" else text
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            items = draw(st.lists(json_values, max_size=3))
            items.insert(draw(st.integers(0, len(items))), value)
            value = items
        else:
            value = {**draw(st.dictionaries(filler, json_values, max_size=3)), draw(filler): value}
    return value, needle


def texts_of(value: Any) -> str:
    """Every string and key of ``value``, joined (where a needle would show)."""
    if isinstance(value, dict):
        return "\n".join(f"{k}\n{texts_of(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "\n".join(texts_of(v) for v in value)
    return str(value)


# --- a real registry with a tool that echoes its arguments ----------------------------------


class EchoTool(AITool):
    """``echo`` returns its arguments as JSON; ``fail`` fails with them as the error text."""

    def get_definition(self) -> AIToolDefinition:
        return self._build_definition_from_operations(
            "echo",
            "Echoes its arguments.",
            [
                AIToolParameter("payload", "object", "Anything", required=False),
                AIToolParameter("items", "array", "Anything", required=False),
                AIToolParameter("text", "string", "Anything", required=False),
            ],
        )

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        allowed = {"payload", "items", "text"}
        return {
            name: AIToolOperationDefinition(
                name, self._handler(name), None, allowed, set(), name, read_only=True
            )
            for name in ("echo", "fail")
        }

    def _handler(self, operation: str) -> Any:
        async def handle(call: AIToolCall, requester: Any, auth: Any) -> AIToolResult:
            args = {k: v for k, v in call.arguments.items() if k != "operation"}
            if operation == "fail":
                raise AIToolExecutionError(f"could not echo {json.dumps(args)}")
            return AIToolResult(id=call.id, name="echo", content=json.dumps(args))

        return handle


VIEWER = Principal(
    name="viewer-user",
    role="viewer",
    permissions=dataclasses.replace(
        role_defaults("super_admin"),
        data_access=dataclasses.replace(
            role_defaults("super_admin").data_access, sensitive_data=False
        ),
    ),
)
"""May call every tool, but may not see sensitive data."""
ROOT = system_principal("root")
"""May see sensitive data: results stay clear, the audit is redacted anyway."""


@pytest.fixture
def registry(database: Database) -> ToolRegistry:
    registry = ToolRegistry(
        database, settings=RegistrySettings(default_timeout=10, max_params_bytes=1_000_000)
    )
    registry.register(EchoTool())
    return registry


def arguments(value: Any) -> dict[str, Any]:
    """The planted value as the echo tool's arguments (an object, a list or a text)."""
    if isinstance(value, dict):
        return {"payload": value}
    if isinstance(value, list):
        return {"items": value}
    return {"text": value}


def stored_row(database: Database, audit_id: int | None) -> str:
    assert audit_id is not None
    with database.session() as session:
        row = session.get(AuditRecord, audit_id)
        assert row is not None
        return "\n".join(
            [json.dumps(row.params), row.result_summary or "", row.error or "", row.tool]
        )


PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(secret=planted(), operation=st.sampled_from(["echo", "fail"]))
def test_a_planted_secret_never_reaches_the_audit_row_or_a_result_without_sensitive_data(
    registry: ToolRegistry, database: Database, secret: tuple[Any, str], operation: str
) -> None:
    value, needle = secret
    params = {"operation": operation, **arguments(value)}
    context = ExecutionContext(principal=VIEWER)
    result = asyncio.run(registry.execute_tool("echo", params, context))
    assert result.status == ("ok" if operation == "echo" else "failed"), result.error
    shown = "\n".join([result.content or "", json.dumps(result.data), result.error or ""])
    assert needle not in shown
    assert needle not in stored_row(database, result.audit_id)


@PROPERTY
@given(secret=planted(), operation=st.sampled_from(["echo", "fail"]))
def test_the_audit_row_is_redacted_even_for_a_principal_who_sees_secrets(
    registry: ToolRegistry, database: Database, secret: tuple[Any, str], operation: str
) -> None:
    value, needle = secret
    params = {"operation": operation, **arguments(value)}
    result = asyncio.run(registry.execute_tool("echo", params, ExecutionContext(principal=ROOT)))
    assert result.status == ("ok" if operation == "echo" else "failed"), result.error
    assert needle not in stored_row(database, result.audit_id)


@settings(max_examples=200, deadline=None)
@given(secret=planted())
def test_redact_removes_a_planted_secret_at_any_depth(secret: tuple[Any, str]) -> None:
    value, needle = secret
    assert needle not in texts_of(redact(value))
    assert needle not in json.dumps(redact(value))


@settings(max_examples=200, deadline=None)
@given(secret=secret_texts())
def test_scrub_text_removes_a_secret_from_any_text(secret: tuple[str, str]) -> None:
    text, needle = secret
    assert needle not in scrub_text(text)
    # the same text quoted inside JSON (an error message quoting a request, a summary)
    assert needle not in scrub_text(json.dumps({"request": text}))


def test_an_assignment_whose_key_is_a_masked_value_is_masked_too() -> None:
    # found by the property above: the first value is the key of the second assignment
    text = 'TOKEN: "password": "Q0000000000000000000" '
    assert scrub_text(text) == 'TOKEN: "[REDACTED]": "[REDACTED]" '
    assert "Q000" not in scrub_text(json.dumps({"request": text}))


async def test_error_text_shown_without_sensitive_data_is_scrubbed(
    registry: ToolRegistry, database: Database
) -> None:
    params = {"operation": "fail", "text": "postgresql://app:hunter2@db/prod", "payload": {}}
    viewer = await registry.execute_tool("echo", params, ExecutionContext(principal=VIEWER))
    assert viewer.status == "failed"
    assert "hunter2" not in (viewer.error or "")
    assert "postgresql://app:[REDACTED]@db/prod" in (viewer.error or "")
    assert "hunter2" not in stored_row(database, viewer.audit_id)
    root = await registry.execute_tool("echo", params, ExecutionContext(principal=ROOT))
    assert "hunter2" in (root.error or "")  # a principal with sensitive_data sees it
    assert "hunter2" not in stored_row(database, root.audit_id)
