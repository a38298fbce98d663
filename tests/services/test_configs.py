"""Versioned configurations: new versions, dry runs, rollback, bulk atomicity, templates."""

from __future__ import annotations

import pytest

from masterai.services.configs import ConfigurationService
from masterai.services.errors import ConflictError, InvalidInputError, NotFoundError
from masterai.store import Database
from masterai.store.models import AIConfiguration, Company


@pytest.fixture
def configs(database: Database) -> ConfigurationService:
    with database.session() as session:
        session.add_all([Company(id=c, name=c.title()) for c in ("acme", "globex", "initech")])
    service = ConfigurationService(database)
    for company in ("acme", "globex"):
        service.update_configuration(
            company,
            {
                "provider": "openai",
                "model": "gpt-4o-mini",
                "system_prompt": "Be kind.",
                "temperature": 0.2,
                "max_tokens": 500,
                "settings": {"language": "en"},
            },
            author="setup",
        )
    return service


def count_versions(database: Database) -> int:
    with database.session() as session:
        return session.query(AIConfiguration).count()


def test_update_prompt_adds_a_version_and_keeps_the_old_one(configs: ConfigurationService) -> None:
    result = configs.update_prompt(
        "acme", "Be kind.\nAnswer briefly.", author="ann", change_note="shorter answers"
    )
    (change,) = result.results
    assert (change.status, change.base_version, change.new_version) == ("changed", 1, 2)
    assert "+Answer briefly." in change.diff
    active = configs.get_configuration("acme")
    assert (active.version, active.author, active.change_note) == (2, "ann", "shorter answers")
    assert active.system_prompt == "Be kind.\nAnswer briefly."
    old = configs.get_configuration("acme", 1)
    assert (old.is_active, old.system_prompt) == (False, "Be kind.")
    assert [v.version for v in configs.list_versions("acme")] == [2, 1]


def test_dry_run_returns_the_diff_and_writes_nothing(
    configs: ConfigurationService, database: Database
) -> None:
    before = count_versions(database)
    result = configs.update_configuration(
        "acme", {"temperature": 0.7, "settings": {"tone": "warm"}}, author="ann", dry_run=True
    )
    (change,) = result.results
    assert change.status == "would_change"
    assert "temperature: 0.2 -> 0.7" in change.diff
    assert 'settings: {"language": "en"} -> {"language": "en", "tone": "warm"}' in change.diff
    assert count_versions(database) == before
    assert configs.get_configuration("acme").temperature == 0.2


def test_applying_an_approved_diff_fails_if_the_configuration_changed_meanwhile(
    configs: ConfigurationService,
) -> None:
    plan = configs.update_prompt("acme", "New prompt", author="ann", dry_run=True)
    configs.update_configuration("acme", {"temperature": 1.0}, author="bob")
    with pytest.raises(ConflictError, match="'acme' changed since the diff"):
        configs.update_prompt(
            "acme", "New prompt", author="ann", expected_versions=plan.expected_versions
        )
    assert configs.get_configuration("acme").system_prompt == "Be kind."


def test_rollback_restores_an_earlier_version_as_a_new_version(
    configs: ConfigurationService,
) -> None:
    configs.update_prompt("acme", "v2 prompt", author="ann")
    configs.update_configuration("acme", {"model": "gpt-4o"}, author="ann")
    result = configs.rollback("acme", 1, author="ann")
    assert result.results[0].new_version == 4
    active = configs.get_configuration("acme")
    assert (active.version, active.source_version) == (4, 1)
    assert (active.system_prompt, active.model) == ("Be kind.", "gpt-4o-mini")
    assert active.change_note == "rollback to v1"
    with pytest.raises(NotFoundError, match="version 9"):
        configs.rollback("acme", 9, author="ann")


def test_bulk_change_with_one_unknown_company_changes_nothing(
    configs: ConfigurationService, database: Database
) -> None:
    before = count_versions(database)
    with pytest.raises(NotFoundError, match="'nope'"):
        configs.apply_to_multiple_companies(
            ["acme", "nope", "globex"], {"model": "gpt-4o"}, author="ann"
        )
    assert count_versions(database) == before
    assert configs.get_configuration("acme").model == "gpt-4o-mini"


def test_bulk_change_reports_each_company(configs: ConfigurationService) -> None:
    configs.update_configuration("globex", {"model": "gpt-4o"}, author="ann")
    result = configs.apply_to_multiple_companies(
        ["acme", "globex", "initech"], {"model": "gpt-4o"}, author="ann"
    )
    status = {r.company_id: (r.status, r.new_version) for r in result.results}
    assert status == {
        "acme": ("changed", 2),
        "globex": ("unchanged", None),
        "initech": ("changed", 1),
    }
    assert configs.get_configuration("initech").model == "gpt-4o"
    assert "globex: no change" in result.diff_text()


def test_clone_and_templates(configs: ConfigurationService) -> None:
    configs.update_prompt("acme", "Acme voice", author="ann")
    configs.clone_configuration("acme", "initech", author="ann")
    assert configs.get_configuration("initech").system_prompt == "Acme voice"
    template = configs.save_as_template("acme", "friendly", description="Kind", author="ann")
    assert template.values["system_prompt"] == "Acme voice"
    with pytest.raises(ConflictError, match="'friendly' already exists"):
        configs.save_as_template("globex", "friendly", author="ann")
    result = configs.apply_template("friendly", ["globex"], author="ann")
    assert result.results[0].status == "changed"
    assert configs.get_configuration("globex").system_prompt == "Acme voice"
    assert [t.name for t in configs.list_templates()] == ["friendly"]
    with pytest.raises(NotFoundError, match="'missing'; known: friendly"):
        configs.apply_template("missing", ["globex"], author="ann")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"temperature": 3}, "temperature must be a number from 0 to 2, got 3"),
        ({"max_tokens": "many"}, "max_tokens must be an integer"),
        ({"colour": "blue"}, "unknown configuration field 'colour'"),
        ({}, "non-empty object"),
        ({"settings": ["x"]}, "settings must be an object"),
    ],
)
def test_malformed_changes_are_rejected(
    configs: ConfigurationService, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        configs.update_configuration("acme", changes, author="ann")


@pytest.mark.parametrize("version", [99999999999999999999, 2**31, 0, -1])
def test_a_version_outside_the_column_is_invalid_input_not_a_crash(
    configs: ConfigurationService, version: int
) -> None:
    with pytest.raises(InvalidInputError, match="version must be an integer from 1 to 2147483647"):
        configs.get_configuration("acme", version)
    with pytest.raises(InvalidInputError, match="version must be an integer from 1 to"):
        configs.diff_versions("acme", 1, version)
