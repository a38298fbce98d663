"""``update_embeddings`` with ``add_conversations``: new conversations join, scrubbed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from rag_support import aidev, platform_over, result_of

from masterai.app import Platform
from masterai.store import Database
from masterai.store.models import Conversation, Message


def _add_conversation(database: Database, index: int, parrot: str) -> None:
    conversation = Conversation(
        id=f"c{index}",
        company_id="acme",
        started_at=datetime(2026, 1, 1 + index, tzinfo=UTC),
        metadata_={"customer_name": "Ann Lee"},
    )
    conversation.messages = [
        Message(seq=1, role="user", content=f"I am Ann, my {parrot} parrot escaped. ann@ex.com"),
        Message(seq=2, role="assistant", content="Leave the cage door open with seeds inside."),
    ]
    with database.session() as session:
        session.add(conversation)


async def _update(p: Platform) -> dict[str, object]:
    result = await aidev(p, "alice", "update_embeddings", company_id="acme", add_conversations=True)
    assert result.ok, result.error
    assert isinstance(result.data, dict)
    summary = result.data["summary"]
    found: dict[str, object] = result_of(result)["conversations"]
    found["summary"] = summary
    return found


async def test_new_conversations_are_added_once_and_scrubbed(
    database: Database, tmp_path: Path
) -> None:
    with platform_over(database, tmp_path) as p:
        _add_conversation(database, 1, "green")
        first = await _update(p)
        _add_conversation(database, 2, "blue")
        second = await _update(p)
        hits = result_of(
            await aidev(p, "vic", "search_similar", company_id="acme", query="blue parrot escaped")
        )["hits"]
    assert (first["added"], first["already_indexed"]) == (1, 0)
    assert (second["added"], second["already_indexed"]) == (1, 1)
    assert "1 new conversation(s) indexed" in str(second["summary"])
    assert hits[0]["id"] == "conversation:c2"
    assert hits[0]["metadata"] == {"kind": "conversation", "conversation_id": "c2"}
    assert "ann@ex.com" not in hits[0]["snippet"] and "Ann" not in hits[0]["snippet"]
    assert second["scrubbed"] >= 2  # at least the address and the name
