"""Redaction: which key names and which values are secrets, and what stays readable."""

from __future__ import annotations

import json

import pytest

from masterai.security.redaction import REDACTED, is_secret_key, redact, scrub_text

# --- key names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "pwd", "pass", "PASS", "jwt", "tokens", "credential", "credentials", "private_key",
        "privateKey", "sort_key", "stripe_key", "webhook_secret", "slack_token", "db_password",
        "DB_PASSWORD", "db_pass", "user_pwd", "refresh_jwt", "api_tokens", "signing-key",
        "settings.api_key",
    ],
)  # fmt: skip
def test_key_names_from_the_attack_list_are_secret(key: str) -> None:
    assert is_secret_key(key)
    assert redact({key: "value"}) == {key: REDACTED}


@pytest.mark.parametrize(
    "key",
    [
        "max_tokens", "token_count", "prompt_tokens", "completion_tokens", "total_tokens",
        "cache_read_input_tokens", "tokens_per_conversation", "tokens_used", "pass_rate",
        "passenger", "key", "author", "keyboard", "monkey", "company_id",
    ],
)  # fmt: skip
def test_counts_and_ordinary_names_are_not_secret(key: str) -> None:
    assert not is_secret_key(key)
    assert redact({key: 5}) == {key: 5}


def test_a_number_under_tokens_is_a_count_but_a_text_under_it_is_a_secret() -> None:
    daily = {"daily": [{"day": "2024-05-01", "tokens": 1057}], "tokens": ["tok-one", "tok-two"]}
    assert redact(daily) == {"daily": [{"day": "2024-05-01", "tokens": 1057}], "tokens": REDACTED}


def test_declared_public_keys_keep_their_values_at_the_top_level_only() -> None:
    value = {"issue_token": True, "nested": {"issue_token": "abc"}}
    assert redact(value, public_keys={"issue_token"}) == {
        "issue_token": True,
        "nested": {"issue_token": REDACTED},
    }


# --- values ------------------------------------------------------------------------------------

SECRET_VALUES = [
    pytest.param("sk-proj-Abcdef0123456789xyz", "Abcdef0123456789", id="openai"),
    pytest.param("sk_live_51HqLyjWDarjtT1zdp7dc", "51HqLyjWDarjtT1zdp7dc", id="stripe-live"),
    pytest.param("rk_live_51HqLyjWDarjtT1zdp7dc", "51HqLyjWDarjtT1zdp7dc", id="stripe-restricted"),
    pytest.param("AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "9tSrke72PouQ", id="google"),
    pytest.param("ghp_16C7e42F292c6912E7710c838347Ae178B4a", "16C7e42F292c", id="github"),
    pytest.param("github_pat_11ABCDEFG0123456789_abcdefghijk", "0123456789_abc", id="github-pat"),
    pytest.param("xoxb-263594206564-FGqddMF8t08v8N7Oq4i57vs1", "FGqddMF8", id="slack"),
    pytest.param("AKIAIOSFODNN7EXAMPLE", "IOSFODNN7", id="aws"),
    pytest.param(
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "SflKxwRJSMeKKF2QT4",
        id="jwt",
    ),
    pytest.param(
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn\n"
        "-----END RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn",
        id="pem",
    ),
    pytest.param(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU",
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU",
        id="pem-cut-off",
    ),
    pytest.param("postgresql://app:hunter2@db/prod", "hunter2", id="url-password"),
    pytest.param("https://api.example.com/x?token=opensesame42&page=2", "opensesame42", id="token"),
    pytest.param("https://a.example.com/cb#x?access_token=opensesame42", "opensesame42", id="at"),
    pytest.param("https://maps.example.com/?key=opensesame42", "opensesame42", id="query-key"),
    pytest.param("https://blob.example.com/f?sv=1&sig=opensesame42", "opensesame42", id="sig"),
    pytest.param("https://h.example.com/?api_key=opensesame42", "opensesame42", id="api-key"),
    pytest.param("Authorization: Bearer opensesame42", "opensesame42", id="bearer"),
    pytest.param("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz", id="basic"),
]


@pytest.mark.parametrize(("text", "secret"), SECRET_VALUES)
def test_secret_shaped_values_are_masked_inside_text(text: str, secret: str) -> None:
    scrubbed = scrub_text(f"calling with {text} now")
    assert secret not in scrubbed
    assert REDACTED in scrubbed and scrubbed.startswith("calling with ")


@pytest.mark.parametrize(("text", "secret"), SECRET_VALUES)
def test_secret_shaped_values_are_masked_inside_json_text(text: str, secret: str) -> None:
    quoted = json.dumps({"error": f"request failed:\n{text}\n"})
    assert secret not in scrub_text(quoted)


@pytest.mark.parametrize(
    "text",
    [
        'settings: {"api_key": "hunter2-horse"} -> {"api_key": "hunter3-horse"}',
        "password=hunter2-horse",
        "db_pass: hunter2-horse",
        "{'private_key': 'hunter2-horse'}",
        '{"credentials": {"user": "ann", "password": "hunter2-horse"}}',
        '{"tokens": ["hunter2-horse"]}',
        "--db-password=hunter2-horse",
        "X-Api-Key: hunter2-horse",
        "Authorization: Token hunter2-horse",
        '{\\"jwt\\": \\"hunter2-horse\\"}',
    ],
)
def test_values_assigned_to_secret_names_are_masked_inside_text(text: str) -> None:
    assert "hunter2" not in scrub_text(text)
    assert "hunter3" not in scrub_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "The key to success: patience",
        "max_tokens=600, prompt_tokens: 12",
        "2.2 turns and 1,057 tokens per conversation; tokens: 1,057",
        "https://example.com/docs?page=2&sort=asc",
        "pass rate: 95% (author: ann)",
        "Use a company id such as acme-retail.",
        "ssh://git@github.com/org/repo.git",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert scrub_text(text) == text


def test_a_secret_in_a_dictionary_key_is_masked() -> None:
    assert redact({"sk-proj-Abcdef0123456789xyz": 1}) == {REDACTED: 1}


def test_scrubbing_is_fast_on_large_text() -> None:
    import time

    text = ('{"name": "ann", "note": "key: the main point", "n": 1}, ' * 20_000)[:1_000_000]
    started = time.perf_counter()
    assert scrub_text(text) == text
    assert time.perf_counter() - started < 5
