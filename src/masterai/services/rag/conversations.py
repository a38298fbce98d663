"""A company's stored conversations as documents of a collection, personal data scrubbed.

Each conversation becomes the document ``conversation:<id>`` (source ``conversation``): its
messages as ``role: text`` lines, with e-mail addresses, phone, card and IBAN numbers and the
names known from its metadata replaced as in training datasets
(:class:`masterai.services.aidev.scrub.Scrubber`).
"""

from __future__ import annotations

from collections.abc import Sequence

from masterai.services.aidev.datasets import Source
from masterai.services.aidev.scrub import Scrubber, names_in
from masterai.services.rag.service import SourceDocument

PREFIX = "conversation:"


def conversation_documents(
    conversations: Sequence[Source], scrubber: Scrubber
) -> list[SourceDocument]:
    """One document per conversation with text (tool calls and empty ones left out)."""
    documents = []
    for conversation in conversations:
        names = names_in(conversation.metadata)
        lines = [
            f"{role}: {scrubber.scrub(text, names)}"
            for role, text in conversation.messages
            if role in ("user", "assistant") and text.strip()
        ]
        if lines:
            documents.append(
                SourceDocument(
                    id=PREFIX + conversation.id,
                    text="\n".join(lines),
                    metadata={"kind": "conversation", "conversation_id": conversation.id},
                    source="conversation",
                )
            )
    return documents
