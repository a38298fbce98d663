"""Helpers of the monitor tests."""

from __future__ import annotations

import json


def conversation_line(conversation_id: str, *answers: str, company: str = "acme") -> str:
    """One JSONL line: a conversation with a user greeting and the assistant's ``answers``."""
    messages = [{"role": "user", "content": "Hello", "created_at": "2027-03-01T10:00:00Z"}]
    messages += [
        {"role": "assistant", "content": text, "created_at": f"2027-03-01T10:00:{i + 1:02d}Z"}
        for i, text in enumerate(answers)
    ]
    return json.dumps({"id": conversation_id, "company_id": company, "messages": messages}) + "\n"
