"""The manifests under ``deploy/`` hold together and match the CLI and settings contracts.

No cluster is needed (``kubeconform`` is not available offline): each document is parsed and
checked for what a wrong manifest would break: the ``masterai`` commands parse with the real
CLI, every ``MASTERAI_*`` variable is a real setting with a valid value, selectors find their
pods, the workers run under the gVisor runtime class and a deny-all policy is the base.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from typer.main import get_command

from masterai.cli import app
from masterai.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KUBERNETES = sorted((DEPLOY / "kubernetes").glob("*.yaml"))


def documents() -> list[dict[str, Any]]:
    return [d for path in KUBERNETES for d in yaml.safe_load_all(path.read_text()) if d]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in documents() if d["kind"] == kind]


def parse_cli(argv: list[str]) -> Any:
    """Parse ``argv`` (``masterai ...``) with the real CLI (its click context).

    Raises the CLI's usage error (``NoSuchOption``, ...) when the command is wrong. Group
    options are not used in the manifests: each group level takes the next word as its
    subcommand.
    """
    assert argv[0] == "masterai", argv
    command: Any = get_command(app)
    parent: Any = None
    name, args = "masterai", argv[1:]
    while hasattr(command, "get_command"):  # a group (Typer's vendored click)
        parent = command.context_class(command, info_name=name, parent=parent)
        name, args = args[0], args[1:]
        command = command.get_command(parent, name)
        assert command is not None, argv
    return command.make_context(name, list(args), parent=parent)


def masterai_env(environment: dict[str, Any]) -> dict[str, str]:
    values = {k: str(v) for k, v in environment.items() if k.startswith("MASTERAI_")}
    # compose interpolation (${VAR:?...}) is filled in at deploy time
    return {k: re.sub(r"\$\{[^}]*\}", "x" * 40, v) for k, v in values.items()}


def settings_accept(values: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in list(__import__("os").environ):
        if name.startswith("MASTERAI_"):
            monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return Settings()


def known_setting(name: str) -> bool:
    model: Any = Settings
    for part in name.removeprefix("MASTERAI_").lower().split("__"):
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            return False
        model = fields[part].annotation
    return True


def containers() -> list[dict[str, Any]]:
    pods = [
        d["spec"]["template"]["spec"] for d in documents() if d["kind"] in ("Deployment", "Job")
    ]
    return [c for pod in pods for c in pod["containers"]]


def test_every_manifest_document_names_its_kind_and_itself() -> None:
    assert KUBERNETES, "no manifests"
    for document in documents():
        assert {"apiVersion", "kind", "metadata"} <= set(document), document
        assert document["metadata"]["name"]


def test_every_masterai_command_parses_with_the_real_cli() -> None:
    commands = [c["command"] for c in containers()]
    commands += [
        s["command"] for s in compose()["services"].values() if "masterai" in str(s.get("command"))
    ]
    assert len(commands) >= 6
    for command in commands:
        parse_cli(command)
    with pytest.raises(Exception, match="No such option: --wokers"):
        parse_cli(["masterai", "serve", "--wokers", "2"])


def test_the_api_serves_with_two_workers_and_runs_no_jobs() -> None:
    [api] = [c for c in containers() if c["name"] == "api"]
    context = parse_cli(api["command"])
    assert (context.params["workers"], context.params["host"]) == (2, "0.0.0.0")
    assert {"name": "MASTERAI_JOBS__SCHEDULER", "value": "false"} in api["env"]
    assert compose()["services"]["api"]["environment"]["MASTERAI_JOBS__SCHEDULER"] == "false"


def test_every_masterai_variable_is_a_real_setting_with_a_valid_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names: dict[str, str] = {}
    for config in of_kind("ConfigMap"):
        names |= masterai_env(config["data"])
    for container in containers():
        names |= masterai_env({e["name"]: e["value"] for e in container.get("env", [])})
    for service in compose()["services"].values():
        names |= masterai_env(service.get("environment") or {})
    assert "MASTERAI_JOBS__QUEUE" in names and "MASTERAI_DATABASE_URL" in names
    unknown = sorted(n for n in names if not known_setting(n))
    assert not unknown, f"not settings: {unknown}"
    settings = settings_accept(names, monkeypatch)
    assert settings.jobs.queue and settings.jobs.queue.startswith("redis://")


def test_selectors_find_the_pods_they_mean() -> None:
    labels = {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in of_kind("Deployment")
    }
    for deployment in of_kind("Deployment"):
        wanted = deployment["spec"]["selector"]["matchLabels"]
        assert wanted.items() <= labels[deployment["metadata"]["name"]].items()
    for service in of_kind("Service"):
        assert any(service["spec"]["selector"].items() <= pod.items() for pod in labels.values())
    claims = {d["metadata"]["name"] for d in of_kind("PersistentVolumeClaim")}
    for deployment in of_kind("Deployment"):
        for volume in deployment["spec"]["template"]["spec"].get("volumes", []):
            assert volume["persistentVolumeClaim"]["claimName"] in claims


def test_probes_ask_the_health_endpoints_on_a_declared_port() -> None:
    [api] = [c for c in containers() if c["name"] == "api"]
    ports = {p["name"] for p in api["ports"]}
    assert api["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["port"] in ports


def test_workers_run_under_gvisor_without_a_service_account_token() -> None:
    [runtime] = of_kind("RuntimeClass")
    assert runtime["handler"] == "runsc"
    [worker] = [d for d in of_kind("Deployment") if d["metadata"]["name"] == "masterai-worker"]
    pod = worker["spec"]["template"]["spec"]
    assert pod["runtimeClassName"] == runtime["metadata"]["name"]
    assert pod["automountServiceAccountToken"] is False


def test_a_deny_all_policy_covers_every_pod_and_exceptions_avoid_private_ranges() -> None:
    policies = of_kind("NetworkPolicy")
    deny = [
        p for p in policies
        if p["spec"]["podSelector"] == {} and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and "ingress" not in p["spec"] and "egress" not in p["spec"]
    ]  # fmt: skip
    assert deny, "no deny-all NetworkPolicy"
    worker_ingress = [
        p for p in policies
        if "ingress" in p["spec"]
        and "masterai-worker" in str(p["spec"]["podSelector"])
    ]  # fmt: skip
    assert not worker_ingress, "nothing may reach the workers"
    for policy in policies:
        for rule in policy["spec"].get("egress", []):
            for peer in rule["to"]:
                if "ipBlock" in peer:
                    assert {"10.0.0.0/8", "169.254.0.0/16"} <= set(peer["ipBlock"]["except"])


def test_compose_services_depend_on_services_it_defines() -> None:
    services = compose()["services"]
    for service in services.values():
        for dependency in service.get("depends_on", {}):
            assert dependency in services
    assert "--appendonly" in services["redis"]["command"]
    worker = parse_cli(services["worker"]["command"])
    assert worker.params["queue"] == services["worker"]["environment"]["MASTERAI_JOBS__QUEUE"]
