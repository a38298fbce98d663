"""Personal data scrubbing on a labelled set: what must go, and what must stay."""

from __future__ import annotations

import pytest

from masterai.services.aidev.scrub import Scrubber, iban_valid, luhn_valid, names_in

# (text, names from metadata, expected text, expected counts)
LABELLED = [
    ("Write to ann.lee@example.co.uk today", [], "Write to [EMAIL] today", {"email": 1}),
    ("Call +44 20 7946 0958 or (030) 123-4567", [], "Call [PHONE] or [PHONE]", {"phone": 2}),
    ("Card 4111 1111 1111 1111 expires", [], "Card [CARD] expires", {"card": 1}),
    ("Card 5500-0000-0000-0004 please", [], "Card [CARD] please", {"card": 1}),
    ("IBAN DE89 3704 0044 0532 0130 00 ok", [], "IBAN [IBAN] ok", {"iban": 1}),
    ("IBAN GB82WEST12345698765432", [], "IBAN [IBAN]", {"iban": 1}),
    ("Thanks Ann Lee, and Lee again", ["Ann Lee"], "Thanks [NAME], and [NAME] again", {"name": 2}),
    ("bob wrote", ["Bob"], "[NAME] wrote", {"name": 1}),
]
KEPT = [
    "Order 12345 shipped",  # too short for a phone
    "Total 1,299.00 EUR",
    "Card 4111 1111 1111 1112 fails Luhn",  # not a valid card number
    "Code DE00 1234 5678 9012 3456 78 fails mod 97",
    "Annual plan for Leeds",  # name parts only as whole words
    "version 2.1.3",
]


@pytest.mark.parametrize(("text", "names", "expected", "counts"), LABELLED)
def test_personal_data_is_replaced_and_counted(
    text: str, names: list[str], expected: str, counts: dict[str, int]
) -> None:
    scrubber = Scrubber()
    assert scrubber.scrub(text, names) == expected
    assert {k: v for k, v in scrubber.report().items() if v} == counts


@pytest.mark.parametrize("text", KEPT)
def test_ordinary_numbers_and_words_are_kept(text: str) -> None:
    scrubber = Scrubber()
    assert scrubber.scrub(text, ["Ann Lee"]) == text
    assert sum(scrubber.report().values()) == 0


def test_checksums() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("DE89 3704 0044 0532 0130 00") and not iban_valid("DE00370400440532013000")


def test_names_come_from_metadata_keys_and_nested_customer() -> None:
    metadata = {"customer_name": "Ann Lee", "customer": {"first_name": "Bo"}, "topic": "Billing"}
    assert names_in(metadata) == ["Ann Lee", "Bo"]
