"""schemathesis against ``/openapi.json`` as a super admin: no 500s, answers match the schema.

In-process (ASGI), with a bounded number of generated requests per operation so the whole
file runs in well under a minute.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from masterai.api import create_app
from masterai.app import Platform
from masterai.registry import approve_all
from masterai.security import system_principal
from masterai.settings import LLMSettings, Settings

EXAMPLES_PER_OPERATION = 15
STATEFUL_BODIES = {
    ("POST", "/api/v1/conversations"): "its conversations must name existing companies and "
    "new conversation ids: a body the schema accepts is still refused by the import (422)",
    ("POST", "/api/v1/tools/{name}"): "the body is the named tool's arguments, described by "
    "that tool's own schema (GET /api/v1/tools/{name}), not by this route's generic object: "
    "when the generated name is a real tool (Hypothesis draws string constants from the "
    "code, such as 'registry'), a body without its operation is refused (400)",
}
"""Operations whose schema-valid bodies may be refused by the store's state, and why."""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, str]]]:
    """The app over a small platform (a company, a configuration, a scripted model)."""
    tmp = tmp_path_factory.mktemp("schema")
    scripts = tmp / "scripts"
    scripts.mkdir()
    # Enough direct answers for every generated chat request.
    (scripts / "script.json").write_text(json.dumps([{"text": "Fine."}] * 2000))
    platform = Platform(
        Settings(
            home=Path(tmp / "home"),
            llm=LLMSettings(model="scripted:script.json", scripted_dir=scripts),
        )
    )
    root = platform.context(system_principal("setup"), approver=approve_all)
    for tool, params in (
        ("admin", {"operation": "add_company", "company_id": "acme", "company_name": "Acme"}),
        ("admin", {"operation": "add_user", "name": "root", "role": "super_admin"}),
        ("configuration", {"operation": "update_prompt", "company_id": "acme", "prompt": "Hi."}),
    ):
        assert platform.call_sync(tool, params, root).ok
    issued = platform.call_sync("admin", {"operation": "issue_token", "name": "root"}, root)
    headers = {"Authorization": f"Bearer {issued.data['result']['token']}"}
    yield create_app(platform), headers
    platform.close()


@pytest.fixture(scope="module")
def api_schema(served: tuple[Any, dict[str, str]]) -> Any:
    app, _ = served
    # Unknown query parameters are ignored by design (as most HTTP APIs do); don't send them.
    config = schemathesis.Config.from_dict({"generation": {"allow-extra-parameters": False}})
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


def _operations() -> list[tuple[str, str]]:
    # Building the app reads no database: the document is known before the fixtures run.
    document = create_app(Platform(Settings(home=Path("unused")))).openapi()
    return [(method.upper(), path) for path, item in document["paths"].items() for method in item]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("method", "path"), _operations())
def test_every_answer_is_documented_and_none_is_a_server_error(
    api_schema: Any,
    served: tuple[Any, dict[str, str]],
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    _, headers = served
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: Any) -> None:
        excluded = [positive_data_acceptance] if (method, path) in STATEFUL_BODIES else []
        case.call_and_validate(headers=headers, excluded_checks=excluded)

    try:
        check()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        pytest.skip(f"{method} {path} takes no input that could be invalid")
