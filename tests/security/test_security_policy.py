"""ToolPermissions, role defaults and the policy function (no database needed)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from masterai.security import (
    ParameterRole,
    PermissionSpecError,
    Principal,
    RoleBinding,
    ToolAction,
    ToolPermissions,
    apply_override,
    decide,
    parse_size,
    redact,
    role_defaults,
)
from masterai.security.permissions import DataAccessPermissions, IntegrationPermissions


def principal(role: str, **overrides: Any) -> Principal:
    permissions = role_defaults(role)
    permissions = dataclasses.replace(
        permissions,
        data_access=dataclasses.replace(
            permissions.data_access,
            read_companies=permissions.data_access.read_companies | {"acme"},
        ),
    )
    for key, value in overrides.items():
        permissions = apply_override(permissions, key.replace("__", "."), value)
    return Principal(name=role, role=role, permissions=permissions)


# What the test operations declare their parameters to mean (as a tool would).
DECLARED = {
    "company_id": ParameterRole.COMPANY,
    "company_ids": ParameterRole.COMPANY,
    "source_company_id": ParameterRole.READ_COMPANY,
    "include_sensitive": ParameterRole.SENSITIVE_REQUEST,
    "url": ParameterRole.URL,
    "callback_url": ParameterRole.URL,
    "to": ParameterRole.EMAIL,
    "bcc": ParameterRole.EMAIL,
    "api": ParameterRole.API,
    "language": ParameterRole.LANGUAGE,
    "code": ParameterRole.CODE,
    "timeout": ParameterRole.TIME_LIMIT,
    "memory": ParameterRole.MEMORY_LIMIT,
    "packages": ParameterRole.PACKAGES,
    "model": ParameterRole.MODEL,
    "models": ParameterRole.MODEL,
}


def action(
    tool: str, *, read_only: bool = True, calls_model: bool = False, **arguments: Any
) -> ToolAction:
    roles = tuple(RoleBinding(path=(k,), role=DECLARED[k]) for k in arguments if k in DECLARED)
    return ToolAction(
        tool=tool,
        category=tool,
        operation="op",
        read_only=read_only,
        arguments=arguments,
        roles=roles,
        calls_model=calls_model,
    )


def test_unknown_roles_and_categories_are_denied_by_default() -> None:
    nobody = Principal(name="x", role="custom", permissions=role_defaults("custom"))
    decision = decide(nobody, action("clock"))
    assert not decision.allowed
    assert (
        decision.reason
        == "role 'custom' may not use 'clock' tools (operation 'op' of tool 'clock')"
    )
    assert not decide(principal("analyst"), action("aidev"))


def test_read_access_allows_only_read_only_operations() -> None:
    viewer = principal("viewer")
    assert decide(viewer, action("configuration", company_id="acme"))
    denied = decide(viewer, action("configuration", read_only=False, company_id="acme"))
    assert "read-only access to 'configuration' tools" in denied.reason


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ({"company_id": "globex"}, "may not read company 'globex'"),
        ({"company_ids": ["acme", "globex"]}, "may not read company 'globex'"),
        ({"source_company_id": "globex"}, "may not read company 'globex'"),
        ({"company_id": 7}, "invalid company id 7"),
        ({"include_sensitive": True, "company_id": "acme"}, "may not see sensitive data"),
        ({"url": "https://evil.example/x"}, "domain 'evil.example' is not in the allowed"),
        ({"callback_url": "not a url"}, "invalid URL 'not a url' in 'callback_url'"),
        ({"to": ["a@acme.com", "b@gmail.com"]}, "e-mail domain 'acme.com' is not allowed"),
        ({"api": "stripe"}, "API 'stripe' is not in the allowed APIs"),
    ],
)
def test_arguments_naming_companies_urls_and_addresses_are_checked(
    arguments: dict[str, Any], reason: str | None
) -> None:
    decision = decide(principal("viewer"), action("integration", **arguments))
    assert not decision.allowed
    if reason:
        assert reason in decision.reason


def test_integration_allow_lists_admit_subdomains_and_listed_email_domains() -> None:
    admin = principal(
        "admin",
        integrations__allowed_domains=["example.com"],
        integrations__email_domains=["acme.com"],
        integrations__allowed_apis=["crm"],
    )
    assert decide(admin, action("integration", url="https://api.example.com/v1"))
    assert not decide(admin, action("integration", url="https://example.com.evil.net/"))
    assert decide(admin, action("integration", to="ops@acme.com", api="crm"))
    assert not decide(admin, action("integration", bcc=["x@other.org"]))


def test_code_execution_is_checked_for_language_limits_and_packages() -> None:
    admin = principal("admin", code_execution__allowed_packages=["pandas"])
    run = lambda **a: decide(admin, action("code", read_only=False, **a))  # noqa: E731
    assert run(language="python", timeout=30, memory="512m", packages=["pandas"])
    assert "language 'cobol'" in run(language="cobol").reason
    assert "timeout 31s exceeds the limit of 30s" in run(timeout=31).reason
    assert "exceeds the limit of 512m" in run(memory=600 * 1024**2).reason
    assert "Invalid size 'lots'" in run(memory="lots").reason
    assert "packages not allowed: 'requests'" in run(packages=["pandas", "requests"]).reason
    assert (
        "code execution is not enabled"
        in decide(principal("viewer", tools__code="write"), action("code", read_only=False)).reason
    )


def test_super_admin_may_do_anything() -> None:
    root = principal("super_admin")
    everything = action(
        "code", read_only=False, company_id="any", language="rust", url="http://x.y", to="a@b.c"
    )
    assert decide(root, everything).allowed


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("data_access.everything", True, "Unknown permission 'data_access.everything'"),
        ("root", True, "Unknown permission 'root'"),
        ("tools.code", "admin", "tools.code must be one of none, read, write"),
        ("code_execution.enabled", "yes", "must be true or false, got 'yes'"),
        ("code_execution.languages", "python", "must be a list of names, got 'python'"),
        ("code_execution.max_execution_time", -1, "must be a positive number, got -1"),
        ("code_execution.max_memory", "big", "Invalid size 'big'"),
        ("model_calls.enabled", "yes", "must be true or false, got 'yes'"),
        ("model_calls.max_cost_usd", -1, "must be a number of USD (0 or more), got -1"),
        ("model_calls.max_cost_usd", float("nan"), "must be a number of USD"),
        ("model_calls.max_cost_usd", "5", "must be a number of USD (0 or more), got '5'"),
    ],
)
def test_malformed_overrides_are_rejected_with_the_value(
    key: str, value: Any, message: str
) -> None:
    with pytest.raises(PermissionSpecError, match=re.escape(message)):
        apply_override(ToolPermissions(), key, value)


def test_sizes_parse_with_binary_units() -> None:
    assert parse_size("512m") == 512 * 1024**2
    assert parse_size("2GiB") == 2 * 1024**3
    assert parse_size(100) == 100
    with pytest.raises(PermissionSpecError):
        parse_size(True)


def test_write_access_implies_read_access() -> None:
    data = DataAccessPermissions(write_companies=frozenset({"acme"}))
    assert data.can_read("acme") and not data.can_read("globex")
    assert IntegrationPermissions(allowed_domains=frozenset({"*"})).allows_host("a.b")


def test_redaction_keeps_json_safe_and_leaves_ordinary_values() -> None:
    assert redact({"n": float("inf"), "when": object, "ok": [1, "a", None]}) == {
        "n": "inf",
        "when": "<class 'object'>",
        "ok": [1, "a", None],
    }
    assert redact({"X-Api-Key": "k", "token_count": None}) == {
        "X-Api-Key": "[REDACTED]",
        "token_count": None,
    }


def test_a_language_without_code_to_run_is_not_code_execution() -> None:
    viewer = principal("viewer")
    assert decide(viewer, action("configuration", company_id="acme", language="fr"))
    denied = decide(viewer, action("configuration", language="python", code="print(1)"))
    assert "code execution is not enabled" in denied.reason


@pytest.mark.parametrize(
    "key", ["password", "X-Api-Key", "apiKey", "access_token", "refreshToken", "client_secret"]
)
def test_secret_key_names_are_redacted(key: str) -> None:
    assert redact({key: "v"}) == {key: "[REDACTED]"}


@pytest.mark.parametrize("key", ["max_tokens", "prompt_tokens", "token_count", "author", "model"])
def test_ordinary_key_names_are_kept(key: str) -> None:
    assert redact({key: 5}) == {key: 5}


def test_arguments_without_a_declared_role_are_not_read_by_the_policy() -> None:
    # The same name means nothing unless the operation declares it: no guessing from names.
    viewer = principal("viewer")
    undeclared = ToolAction(
        tool="integration",
        category="integration",
        operation="op",
        read_only=True,
        arguments={"company_id": "globex"},
    )
    assert decide(viewer, undeclared).allowed


@pytest.mark.parametrize("name", ["tenant_id", "customer", "recipients_list"])
def test_a_declared_role_is_checked_whatever_the_parameter_is_called(name: str) -> None:
    viewer = principal("viewer")
    as_company = ToolAction(
        tool="t",
        category="analytics",
        operation="op",
        read_only=True,
        arguments={name: "globex"},
        roles=(RoleBinding(path=(name,), role=ParameterRole.COMPANY),),
    )
    assert decide(viewer, as_company).reason == "'viewer' may not read company 'globex'"
    as_email = ToolAction(
        tool="t",
        category="analytics",
        operation="op",
        read_only=True,
        arguments={name: ["a@evil.example"]},
        roles=(RoleBinding(path=(name,), role=ParameterRole.EMAIL),),
    )
    assert "e-mail domain 'evil.example' is not allowed" in decide(viewer, as_email).reason


def test_roles_on_nested_fields_and_array_items_are_checked() -> None:
    viewer = principal("viewer")
    nested = ToolAction(
        tool="t",
        category="analytics",
        operation="op",
        read_only=True,
        arguments={"targets": [{"tenant": "acme"}, {"tenant": "globex"}]},
        roles=(RoleBinding(path=("targets", "tenant"), role=ParameterRole.COMPANY),),
    )
    assert decide(viewer, nested).reason == "'viewer' may not read company 'globex'"


def test_a_time_limit_is_bounded_wherever_it_is_declared() -> None:
    analyst = principal("analyst")
    limited = action("analytics", timeout=3600)
    assert decide(analyst, limited).reason == "timeout 3600s exceeds the limit of 30s"


# --- model calls and model endpoints ---------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("super_admin", True), ("admin", True), ("analyst", False), ("viewer", False)],
)
def test_calling_models_is_a_permission_of_its_own(role: str, allowed: bool) -> None:
    assert role_defaults(role).model_calls.enabled is allowed
    decision = decide(principal(role), action("analytics", calls_model=True))
    assert decision.allowed is allowed
    if not allowed:
        assert decision.reason == (
            f"{role!r} may not call language models: operation 'op' of tool 'analytics' calls "
            "a model and costs money (grant model_calls.enabled)"
        )


def test_a_grant_opens_model_calls_and_records_a_budget() -> None:
    viewer = principal("viewer", model_calls__enabled=True, model_calls__max_cost_usd=5)
    assert decide(viewer, action("analytics", calls_model=True))
    assert viewer.permissions.model_calls.max_cost_usd == 5.0
    assert viewer.permissions.to_dict()["model_calls"] == {"enabled": True, "max_cost_usd": 5.0}
    assert decide(principal("viewer"), action("analytics", calls_model=False))


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        (
            "openai:gpt-4o@http://127.0.0.1:9/v1",
            "model endpoint '127.0.0.1' (model) is not in the allowed domains of 'admin'",
        ),
        (
            "openai:gpt-4o@http://allowed.example@evil.example/v1",
            "model endpoint 'evil.example' (model)",
        ),
        ("openai:x@http://", "invalid base URL 'http://' of model 'openai:x@http://'"),
        (7, "invalid model 7 in 'model'"),
    ],
)
def test_a_model_specs_base_url_must_be_an_allowed_domain(spec: Any, reason: str) -> None:
    admin = principal("admin", integrations__allowed_domains=["allowed.example"])
    decision = decide(admin, action("analytics", model=spec))
    assert not decision.allowed
    assert reason in decision.reason


@pytest.mark.parametrize(
    "spec",
    [
        "openai:gpt-4o-mini",
        "gpt-4o-mini",
        "claude-3-5-sonnet@20240620",
        "openai:m@https://api.allowed.example/v1",
    ],
)
def test_model_specs_without_a_destination_or_on_allowed_domains_pass(spec: str) -> None:
    admin = principal("admin", integrations__allowed_domains=["allowed.example"])
    assert decide(admin, action("analytics", models=[spec])).allowed


@pytest.mark.parametrize(
    ("patterns", "host", "allowed"),
    [
        (["10.0.0.0/8"], "10.1.2.3", True),
        (["10.0.0.0/8"], "11.0.0.1", False),
        (["192.168.1.5"], "192.168.1.5", True),
        (["192.168.1.5"], "192.168.1.6", False),
        (["fd00::/8"], "[fd00::1]", True),
        (["10.0.0.0/8"], "::ffff:10.0.0.1", True),
        (["10.0.0.0/8"], "ten.example", False),
        (["example.com"], "10.0.0.1", False),
        (["*.example.com"], "api.example.com", True),
        (["example.com"], "API.Example.COM.", True),
        (["example.com"], "example.com.evil.net", False),
        (["example.com"], "notexample.com", False),
        (["*"], "anything.at.all", True),
        ([], "example.com", False),
    ],
)
def test_allowed_domains_admit_names_with_subdomains_addresses_and_cidr_blocks(
    patterns: list[str], host: str, allowed: bool
) -> None:
    integrations = IntegrationPermissions(allowed_domains=frozenset(patterns))
    assert integrations.allows_host(host) is allowed
