"""Bundles between instances, and the local catalog."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
from custom_support import UPPER_TOOL, custom_platform, ready_tool, registry
from scripts_support import result_of

from masterai.app import Platform
from masterai.store import Database


@pytest.fixture
def second_database(tmp_path: Path, _sqlite_template: Path) -> Any:
    """A fresh instance's database (SQLite), whatever the first one is."""
    path = tmp_path / "second.db"
    shutil.copyfile(_sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


async def exported(database: Database, tmp_path: Path) -> dict[str, Any]:
    with custom_platform(database, tmp_path / "first") as first:
        return await export_from(first)


async def export_from(platform: Platform) -> dict[str, Any]:
    await ready_tool(platform, "alice", UPPER_TOOL)
    bundle = result_of(await registry(platform, "alice", "export_custom_tool", name="shout"))
    assert isinstance(bundle, dict)
    return bundle


async def test_a_bundle_imported_into_a_fresh_instance_that_trusts_its_key_is_a_draft(
    database: Database, second_database: Database, tmp_path: Path
) -> None:
    bundle = await exported(database, tmp_path)
    with custom_platform(second_database, tmp_path / "second") as second:
        second.settings.custom_tools.trusted_keys = [bundle["seal"]["signer"]]

        imported = await registry(second, "alice", "import_custom_tool", bundle=bundle)

        tool = result_of(imported)
        assert (tool["name"], tool["status"], tool["origin"]) == ("shout", "draft", "imported")
        assert "shout" not in second.registry.names()
        shown = result_of(await registry(second, "alice", "get_custom_tool", name="shout"))
        assert shown["provenance"]["bundle_author"] == "alice"
        assert shown["definition"]["code"] == UPPER_TOOL["code"]


async def test_a_bundle_from_an_untrusted_instance_is_refused(
    database: Database, second_database: Database, tmp_path: Path
) -> None:
    bundle = await exported(database, tmp_path)
    with custom_platform(second_database, tmp_path / "second") as second:
        refused = await registry(second, "alice", "import_custom_tool", bundle=bundle)

        assert not refused.ok
        assert "does not trust" in (refused.error or "")


@pytest.mark.parametrize("where", ["code", "hash", "signature"])
async def test_a_tampered_bundle_is_refused(database: Database, tmp_path: Path, where: str) -> None:
    with custom_platform(database, tmp_path / "first") as same:
        refused = await registry(
            same,
            "alice",
            "import_custom_tool",
            bundle=tampered_bundle(await export_from(same), where),
            name="copy",
        )

    assert not refused.ok
    expected = "content hash" if where == "code" else "signature does not match"
    assert expected in (refused.error or "")


def tampered_bundle(bundle: dict[str, Any], where: str) -> dict[str, Any]:
    tampered = copy.deepcopy(bundle)
    if where == "code":
        tampered["definition"]["code"] += "\nimport os\n"
    elif where == "hash":
        tampered["definition"]["code"] += "\nimport os\n"
        from masterai.services.custom_tools import content_hash

        tampered["content_hash"] = content_hash({"name": "shout", **tampered["definition"]})
    else:
        tampered["manifest"]["author"] = "mallory"
    return tampered


async def test_published_versions_are_searched_and_installed_per_company_as_drafts(
    database: Database, tmp_path: Path
) -> None:
    with custom_platform(database, tmp_path) as platform:
        await ready_tool(platform, "admin", UPPER_TOOL)
        denied = await registry(platform, "alice", "publish_custom_tool", name="shout", version=1)
        published = await registry(
            platform, "admin", "publish_custom_tool", name="shout", version=1
        )
        assert (await registry(platform, "admin", "delete_custom_tool", name="shout")).ok

        installed = await registry(
            platform,
            "alice",
            "install_from_catalog",
            name="shout",
            version=1,
            companies=["acme"],
        )
        found = result_of(await registry(platform, "vic", "search_catalog", query="upper"))
        missing = result_of(await registry(platform, "vic", "search_catalog", query="nothing"))

        assert denied.status == "denied"
        assert result_of(published)["version"] == 1
        tool = result_of(installed)["tool"]
        assert (tool["status"], tool["owner"], tool["origin"]) == ("draft", "alice", "catalog")
        [entry] = found
        assert entry["name"] == "shout"
        assert entry["versions"][0]["install_count"] == 1
        assert entry["installs"] == {"acme": 1}
        assert missing == []


async def test_an_untested_version_cannot_be_published(database: Database, tmp_path: Path) -> None:
    with custom_platform(database, tmp_path) as platform:
        assert (await registry(platform, "admin", "create_custom_tool", **UPPER_TOOL)).ok

        refused = await registry(platform, "admin", "publish_custom_tool", name="shout", version=1)

        assert "never tested" in (refused.error or "")


async def test_installing_for_a_company_the_caller_may_not_change_is_denied(
    database: Database, tmp_path: Path
) -> None:
    with custom_platform(database, tmp_path) as platform:
        await ready_tool(platform, "admin", UPPER_TOOL)
        assert (
            await registry(platform, "admin", "publish_custom_tool", name="shout", version=1)
        ).ok

        refused = await registry(
            platform,
            "alice",
            "install_from_catalog",
            name="shout",
            version=1,
            companies=["globex"],
        )

        assert refused.status == "denied"
