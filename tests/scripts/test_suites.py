"""generate_test_cases and run_integration_tests: deterministic cases, stored reports, diffs."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from scripts_support import code, platform_over, result_of

from masterai.services.configs import ConfigurationService
from masterai.services.demo import seed_demo
from masterai.store import Database
from masterai.store.models.events import Event

COMPANY = "acme-retail"
FALLBACK = "I'm sorry, I don't have information about that. Could you rephrase?"
PROMPT = (
    "You are Acme's assistant. Never mention competitors. "
    'Always end with "Have a nice day". Keep answers short.'
)


def prepare(database: Database, models: Path) -> None:
    seed_demo(database, companies=1, conversations=80, days=14)
    models.mkdir()
    (models / "good.json").write_text(json.dumps([{"text": "Sure. Have a nice day"}] * 100))
    (models / "bad.json").write_text(json.dumps([{"text": FALLBACK}] * 100))
    ConfigurationService(database).update_configuration(
        COMPANY,
        {"provider": "scripted", "model": "good.json", "system_prompt": PROMPT},
        author="setup",
    )


async def test_cases_come_from_the_prompt_rules_and_failed_conversations_deterministically(
    database: Database, tmp_path: Path
) -> None:
    with platform_over(database, tmp_path, scripted_dir=tmp_path / "models") as platform:
        prepare(database, tmp_path / "models")
        first = result_of(await code(platform, "admin", "generate_test_cases", company_id=COMPANY))
        second = result_of(await code(platform, "admin", "generate_test_cases", company_id=COMPANY))

    cases = first["test_cases"]
    by_name = {c["name"]: c for c in cases}
    assert (first["version"], second["version"]) == (1, 2)
    assert second["test_cases"] == cases
    assert {"type": "not_contains", "value": "competitors"} in by_name["config:rule-2"][
        "assertions"
    ]
    assert {"type": "contains", "value": "Have a nice day"} in by_name["config:rule-3"][
        "assertions"
    ]
    conversations = [c for c in cases if c["source"] == "conversations"]
    assert conversations and all(c["reason"] for c in conversations)


async def test_a_report_is_stored_with_the_difference_from_the_previous_run(
    database: Database, tmp_path: Path
) -> None:
    with platform_over(database, tmp_path, scripted_dir=tmp_path / "models") as platform:
        prepare(database, tmp_path / "models")
        await code(platform, "admin", "generate_test_cases", company_id=COMPANY, count=5)
        good = result_of(await code(platform, "admin", "run_integration_tests", company_id=COMPANY))
        ConfigurationService(database).update_configuration(
            COMPANY, {"model": "bad.json"}, author="setup"
        )
        bad = result_of(await code(platform, "admin", "run_integration_tests", company_id=COMPANY))

    assert (good["failed"], good["diff"]) == (0, {"previous": None})
    assert bad["failed"] > 0 and bad["diff"]["newly_failing"]
    assert set(bad["diff"]["newly_failing"]) == {c["name"] for c in bad["cases"] if not c["passed"]}
    with database.session() as session:
        events = session.scalars(sa.select(Event).where(Event.type == "test.failed")).all()
    assert [e.data["report_id"] for e in events] == [bad["id"]]


async def test_a_company_without_a_suite_is_told_to_generate_one(
    database: Database, tmp_path: Path
) -> None:
    with platform_over(database, tmp_path) as platform:
        result = await code(platform, "admin", "run_integration_tests", company_id="acme")

    assert result.status == "not_found"
    assert result.error == "'acme' has no test suite: run generate_test_cases first"
