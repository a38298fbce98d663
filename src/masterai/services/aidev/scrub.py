"""Personal data scrubbing for training data: e-mail addresses, phones, cards, IBANs, names.

Each kind is replaced by a placeholder (``[EMAIL]``, ``[PHONE]``, ``[CARD]``, ``[IBAN]``,
``[NAME]``) and counted. Card numbers must pass the Luhn check and IBANs the mod-97 check,
so order numbers and amounts are left alone. Names are the ones a conversation's metadata
knows (``name``, ``customer_name``, ``first_name``, ...), matched as whole words.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = ("email", "phone", "card", "iban", "name")
NAME_KEYS = (
    "name",
    "customer_name",
    "first_name",
    "last_name",
    "full_name",
    "user_name",
    "contact_name",
)
"""Metadata keys whose values are personal names."""

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d ().-]{5,}\d\b")


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn check (payment card numbers do)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """Whether ``text`` (spaces allowed) is an IBAN with a valid mod-97 check."""
    compact = text.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


@dataclass
class Scrubber:
    """Replaces personal data and counts what it replaced (across every call)."""

    counts: Counter[str] = field(default_factory=Counter)

    def _sub(self, pattern: re.Pattern[str], kind: str, text: str, valid: Any = None) -> str:
        def replace(match: re.Match[str]) -> str:
            if valid is not None and not valid(match.group(0)):
                return match.group(0)
            self.counts[kind] += 1
            return f"[{kind.upper()}]"

        return pattern.sub(replace, text)

    def scrub(self, text: str, names: Iterable[str] = ()) -> str:
        """``text`` with personal data replaced."""
        text = self._sub(_EMAIL, "email", text)
        text = self._sub(_IBAN, "iban", text, iban_valid)
        text = self._sub(_CARD, "card", text, lambda s: luhn_valid(re.sub(r"\D", "", s)))
        text = self._sub(_PHONE, "phone", text, lambda s: 7 <= len(re.sub(r"\D", "", s)) <= 15)
        words = sorted({w for n in names for w in _name_words(n)}, key=len, reverse=True)
        if words:
            pattern = re.compile(
                r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE
            )
            text = self._sub(pattern, "name", text)
        return text

    def report(self) -> dict[str, int]:
        """How many of each kind were scrubbed (every kind listed)."""
        return {kind: self.counts.get(kind, 0) for kind in KINDS}


def _name_words(name: str) -> list[str]:
    # The full name and each part of two letters or more ("Ann Lee" -> Ann Lee, Ann, Lee).
    parts = [p for p in re.split(r"\s+", name.strip()) if len(p) >= 2]
    return [name.strip(), *parts] if len(parts) > 1 else parts


def names_in(metadata: Mapping[str, Any]) -> list[str]:
    """The personal names a conversation's metadata holds."""
    found = []
    for key in NAME_KEYS:
        value = metadata.get(key)
        if isinstance(value, str) and value.strip():
            found.append(value)
    customer = metadata.get("customer")
    if isinstance(customer, Mapping):
        found.extend(names_in(customer))
    return found
