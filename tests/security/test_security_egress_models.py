"""The model-endpoint attack of issue 11, as regression tests through the registry.

The attack: a viewer called ``analytics.benchmark_models`` with ``openai:gpt-4o@http://HOST/v1``
and the server sent the request, with the operator's API key, to any URL; ``scripted:/path``
read any file. Each test runs the real tools, ``build_model`` and the SDKs against a fake
provider on loopback (``tests/llm/llm_wire.py``).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from masterai.registry import ExecutionContext, ToolRegistry
from masterai.registry.context import ToolResult
from masterai.security import Principal, apply_override, role_defaults
from masterai.services.analytics import AnalyticsService
from masterai.services.configs import ConfigurationService
from masterai.settings import EgressSettings, LLMSettings, Settings
from masterai.store import Database
from masterai.store.models import Company
from masterai.tools.evaluation import EvaluatingAnalyticsTool, EvaluatingConfigurationTool

_LLM_TESTS = str(Path(__file__).resolve().parents[1] / "llm")
if _LLM_TESTS not in sys.path:
    sys.path.append(_LLM_TESTS)

from llm_wire import AnthropicDialect, Dialect, FakeServer, OpenAIDialect  # noqa: E402

pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)

OPERATOR_KEY = "sk-operator-secret-0123456789"
DIALECTS = [OpenAIDialect(), AnthropicDialect()]


@pytest.fixture(autouse=True)
def operator_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator's keys are in the environment; nothing else about models is configured."""
    for name in (
        "MASTERAI_MODEL",
        "MASTERAI_LLM__MODEL",
        "MASTERAI_LLM__API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_BASE_URL",
        "OPENAI_ORG_ID",
        "OPENAI_PROJECT_ID",
        "OPENAI_ADMIN_KEY",
        "OPENAI_CUSTOM_HEADERS",
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_CUSTOM_HEADERS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", OPERATOR_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", OPERATOR_KEY)


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


def principal(role: str, **grants: Any) -> Principal:
    """A principal of ``role`` who may read ``acme``, plus dotted grants (``a__b=...``)."""
    permissions = role_defaults(role)
    data = permissions.data_access
    permissions = dataclasses.replace(
        permissions,
        data_access=dataclasses.replace(data, read_companies=data.read_companies | {"acme"}),
    )
    for key, value in grants.items():
        permissions = apply_override(permissions, key.replace("__", "."), value)
    return Principal(name=role, role=role, permissions=permissions)


def platform(
    database: Database, tmp_path: Path, *, scripts: bool = True, **egress: Any
) -> ToolRegistry:
    """The two evaluation tools with the real model factory (``build_model``)."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        home=tmp_path / "home",
        egress=EgressSettings(timeout=5, **egress),
        llm=LLMSettings(max_retries=0, scripted_dir=tmp_path / "scripts" if scripts else None),
    )
    with database.session() as session:
        if session.get(Company, "acme") is None:
            session.add(Company(id="acme", name="Acme"))
    registry = ToolRegistry(database)
    registry.register(
        EvaluatingAnalyticsTool(AnalyticsService(database, settings), tmp_path, settings),
        category="analytics",
    )
    registry.register(
        EvaluatingConfigurationTool(ConfigurationService(database), settings),
        category="configuration",
    )
    return registry


async def benchmark(registry: ToolRegistry, who: Principal, *models: str) -> ToolResult:
    arguments = {"operation": "benchmark_models", "models": list(models), "test_cases": ["hi"]}
    return await registry.execute_tool("analytics", arguments, ExecutionContext(principal=who))


def sent_headers(server: FakeServer) -> str:
    """Every header the fake provider received, as one text to search."""
    return json.dumps([request.headers for request in server.requests])


# --- who may call models ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "analyst"])
async def test_a_viewer_or_analyst_may_not_benchmark_a_chosen_endpoint(
    database: Database, tmp_path: Path, fake_server: FakeServer, role: str
) -> None:
    registry = platform(database, tmp_path, allowed_networks=["127.0.0.1/32"])
    spec = f"openai:gpt-4o@{fake_server.url}/v1"
    result = await benchmark(registry, principal(role), spec)
    assert result.status == "denied"
    assert f"{role!r} may not call language models" in (result.error or "")
    assert "grant model_calls.enabled" in (result.error or "")
    assert fake_server.requests == []


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_model_operations_are_not_shown_to_principals_without_model_calls(
    database: Database, tmp_path: Path, role: str
) -> None:
    registry = platform(database, tmp_path)
    shown = {t.name: {o.name for o in t.operations} for t in registry.list_tools(principal(role))}
    assert "benchmark_models" not in shown["analytics"]
    assert "test_configuration" not in shown["configuration"]
    admin = {
        t.name: {o.name for o in t.operations} for t in registry.list_tools(principal("admin"))
    }
    assert {"benchmark_models"} <= admin["analytics"]


@pytest.mark.parametrize("domains", [None, ["example.com"]])
async def test_an_admin_may_not_send_a_model_to_a_domain_not_allowed(
    database: Database, tmp_path: Path, fake_server: FakeServer, domains: list[str] | None
) -> None:
    registry = platform(database, tmp_path, allowed_networks=["127.0.0.1/32"])
    grants = {} if domains is None else {"integrations__allowed_domains": domains}
    admin = principal("admin", **grants)
    assert admin.permissions.model_calls.enabled
    result = await benchmark(registry, admin, f"openai:gpt-4o@{fake_server.url}/v1")
    assert result.status == "denied"
    assert "model endpoint '127.0.0.1' (models) is not in the allowed domains" in (
        result.error or ""
    )
    assert fake_server.requests == []


async def test_a_judge_model_endpoint_is_held_to_the_callers_domains(
    database: Database, tmp_path: Path, fake_server: FakeServer
) -> None:
    registry = platform(database, tmp_path, allowed_networks=["127.0.0.1/32"])
    arguments = {
        "operation": "benchmark_models",
        "models": ["openai:gpt-4o-mini"],
        "test_cases": ["hi"],
        "judge_model": f"openai:judge@{fake_server.url}/v1",
    }
    context = ExecutionContext(principal=principal("admin"))
    result = await registry.execute_tool("analytics", arguments, context)
    assert result.status == "denied"
    assert "(judge_model) is not in the allowed domains" in (result.error or "")


async def test_a_viewer_granted_model_calls_is_still_held_to_its_domains(
    database: Database, tmp_path: Path, fake_server: FakeServer
) -> None:
    registry = platform(database, tmp_path, allowed_networks=["127.0.0.1/32"])
    viewer = principal("viewer", model_calls__enabled=True)
    result = await benchmark(registry, viewer, f"openai:gpt-4o@{fake_server.url}/v1")
    assert result.status == "denied"
    assert "is not in the allowed domains of 'viewer'" in (result.error or "")


# --- credentials follow the endpoint, not the spec -------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
async def test_a_super_admins_chosen_endpoint_does_not_receive_the_operators_key(
    database: Database, tmp_path: Path, fake_server: FakeServer, dialect: Dialect
) -> None:
    registry = platform(database, tmp_path, allowed_networks=["127.0.0.1/32"])
    fake_server.replies.append(dialect.text("hello"))
    result = await benchmark(registry, principal("super_admin"), dialect.spec(fake_server.url))
    assert result.ok, result.error
    (request,) = fake_server.requests
    assert request.path == dialect.path
    assert "authorization" not in request.headers
    assert "x-api-key" not in request.headers
    assert OPERATOR_KEY not in sent_headers(fake_server)


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
async def test_the_operators_other_environment_credentials_stay_with_the_operator(
    database: Database,
    tmp_path: Path,
    fake_server: FakeServer,
    dialect: Dialect,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_ORG_ID", "org-operator")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-operator")
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "sk-admin-operator")
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "X-Gateway-Token: gw-operator")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "tok-operator")
    monkeypatch.setenv("ANTHROPIC_CUSTOM_HEADERS", "X-Gateway-Token: gw-operator")
    registry = platform(database, tmp_path, allowed_networks=["127.0.0.1/32"])
    fake_server.replies.append(dialect.text("hello"))
    result = await benchmark(registry, principal("super_admin"), dialect.spec(fake_server.url))
    assert result.ok, result.error
    sent = sent_headers(fake_server)
    for value in ("org-operator", "proj-operator", "sk-admin-operator", "gw-operator", "tok-"):
        assert value not in sent


async def test_a_spec_without_base_url_goes_to_the_operators_endpoint_with_its_key(
    database: Database, tmp_path: Path, fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The operator points the OpenAI SDK at a gateway; no allowed network is needed for it.
    monkeypatch.setenv("OPENAI_BASE_URL", f"{fake_server.url}/v1")
    registry = platform(database, tmp_path)
    fake_server.replies.append(OpenAIDialect().text("hello"))
    result = await benchmark(registry, principal("admin"), "openai:gpt-4o-mini")
    assert result.ok, result.error
    assert fake_server.requests[0].headers["authorization"] == f"Bearer {OPERATOR_KEY}"


async def test_without_an_allowed_network_a_chosen_loopback_endpoint_is_refused(
    database: Database, tmp_path: Path, fake_server: FakeServer
) -> None:
    registry = platform(database, tmp_path)
    result = await benchmark(registry, principal("super_admin"), f"ollama:x@{fake_server.url}")
    assert result.status == "failed"
    assert "benchmark_models: ollama:x" in (result.error or "")
    assert "which is loopback" in (result.error or "")
    assert fake_server.requests == []


async def test_a_configurations_base_url_is_held_to_the_callers_domains(
    database: Database, tmp_path: Path, fake_server: FakeServer
) -> None:
    registry = platform(database, tmp_path, allowed_networks=["127.0.0.1/32"])
    ConfigurationService(database).update_configuration(
        "acme",
        {"provider": "openai", "model": "x", "settings": {"base_url": f"{fake_server.url}/v1"}},
        author="setup",
    )
    arguments = {"operation": "test_configuration", "company_id": "acme", "test_cases": ["hi"]}
    context = ExecutionContext(principal=principal("admin"))
    result = await registry.execute_tool("configuration", arguments, context)
    assert result.status == "failed"
    assert "model endpoint '127.0.0.1'" in (result.error or "")
    assert "is not in the allowed domains (none)" in (result.error or "")
    assert fake_server.requests == []


# --- scripted models --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("scripted:/etc/passwd", "is outside the scripts directory"),
        ("scripted:../secret.json", "must not contain '..'"),
        ("scripted:/tmp/../etc/passwd", "must not contain '..'"),
    ],
)
async def test_a_scripted_model_outside_the_scripts_directory_is_refused(
    database: Database, tmp_path: Path, spec: str, complaint: str
) -> None:
    registry = platform(database, tmp_path)
    result = await benchmark(registry, principal("super_admin"), spec)
    assert result.status == "failed"
    assert complaint in (result.error or "")


async def test_scripted_models_are_unavailable_without_a_scripts_directory(
    database: Database, tmp_path: Path
) -> None:
    registry = platform(database, tmp_path, scripts=False)
    result = await benchmark(registry, principal("super_admin"), "scripted:/etc/passwd")
    assert result.status == "failed"
    assert "set MASTERAI_LLM__SCRIPTED_DIR" in (result.error or "")


async def test_a_scripted_model_in_the_scripts_directory_plays(
    database: Database, tmp_path: Path
) -> None:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "hello.json").write_text(json.dumps([{"text": "hello"}]))
    registry = platform(database, tmp_path)
    result = await benchmark(registry, principal("super_admin"), "scripted:hello.json")
    assert result.ok, result.error
    assert result.data["result"]["summary"][0]["cases"] == 1
