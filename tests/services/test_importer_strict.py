"""Strict import: company ids, finite and in-range numbers, supported dates, one company per
conversation; one error per bad line, with its number, and nothing written."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from masterai.security import DirectoryError, UserDirectory
from masterai.services.importer import ImportFileError, import_conversations_text
from masterai.store import Database
from masterai.store.models import Company, Conversation, Message


def conversation(cid: str = "c1", **changes: Any) -> dict[str, Any]:
    message = {"role": "user", "content": "Hi", "created_at": "2024-05-01T10:00:00Z"}
    message.update(changes.pop("message", {}))
    return {"id": cid, "company_id": "acme", "messages": [message], **changes}


def jsonl(*rows: Any) -> str:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n"


@pytest.fixture
def acme(database: Database) -> Database:
    with database.session() as session:
        session.add(Company(id="acme", name="Acme"))
    return database


def counts(database: Database) -> list[int]:
    with database.session() as session:
        return [
            session.scalar(sa.select(sa.func.count()).select_from(table)) or 0
            for table in (Company, Conversation, Message)
        ]


def refused(database: Database, text: str, fmt: str = "jsonl") -> dict[int, str]:
    """The bad lines of an import that must write nothing, by line number."""
    before = counts(database)
    with pytest.raises(ImportFileError) as caught:
        import_conversations_text(database, text, fmt=fmt, create_companies=True)
    assert counts(database) == before
    lines = [b.line for b in caught.value.bad]
    assert len(lines) == len(set(lines)), "one error per bad line"
    return {b.line: b.message for b in caught.value.bad}


@pytest.mark.parametrize(
    "company", ["*", "../../etc", "<script>", "ACME-RETAIL", "acme-retail ", "acme\n", "", "a b"]
)
def test_a_company_id_company_add_refuses_is_refused_with_its_line(
    acme: Database, company: str
) -> None:
    bad = refused(acme, jsonl(conversation("ok"), conversation("x", company_id=company)))
    assert list(bad) == [2]
    assert "company_id" in bad[2] and repr(company) in bad[2]


def test_after_a_refused_import_of_star_granting_star_is_refused(acme: Database) -> None:
    refused(acme, jsonl(conversation(company_id="*")))
    directory = UserDirectory(acme)
    directory.add_user("eve", "viewer")
    with pytest.raises(DirectoryError, match="Invalid company id"):
        directory.grant_company("eve", "*", "read")
    with acme.session() as session:
        assert session.get(Company, "*") is None


def test_a_company_row_with_a_bad_id_is_never_granted(acme: Database) -> None:
    # A row left by an earlier, laxer importer: the rule still refuses to link it.
    with acme.session() as session:
        session.add(Company(id="*", name="everything"))
    directory = UserDirectory(acme)
    directory.add_user("eve", "viewer")
    with pytest.raises(DirectoryError, match="Invalid company id"):
        directory.grant_company("eve", "*", "read")


@pytest.mark.parametrize(
    "line",
    [
        '{"id": "x", "company_id": "acme", "messages": [{"role": "user", "content": "a", '
        '"created_at": "2024-05-01T10:00:00Z", "cost_usd": Infinity}]}',
        '{"id": "x", "company_id": "acme", "messages": [{"role": "user", "content": "a", '
        '"created_at": "2024-05-01T10:00:00Z", "cost_usd": NaN}]}',
        '{"id": "x", "company_id": "acme", "metadata": {"score": -Infinity}}',
        json.dumps(conversation("x", message={"cost_usd": 1e400})),
    ],
)
def test_numbers_that_are_not_finite_are_refused(acme: Database, line: str) -> None:
    bad = refused(acme, jsonl(conversation("ok"), line))
    assert list(bad) == [2]
    assert "finite" in bad[2]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"message": {"prompt_tokens": 10**20}}, "prompt_tokens"),
        ({"message": {"completion_tokens": 2**31}}, "completion_tokens"),
        ({"message": {"latency_ms": 99999999999999999999}}, "latency_ms"),
        ({"message": {"seq": 2**40}}, "seq"),
        ({"message": {"cost_usd": 1e300}}, "cost_usd"),
        ({"config_version": 10**30}, "config_version"),
    ],
)
def test_numbers_outside_their_column_are_refused_not_a_traceback(
    acme: Database, changes: dict[str, Any], field: str
) -> None:
    bad = refused(acme, jsonl(conversation("ok"), conversation("x", **changes)))
    assert list(bad) == [2]
    assert field in bad[2] and "less than or equal" in bad[2]


def test_a_number_of_thousands_of_digits_is_a_bad_line(acme: Database) -> None:
    line = json.dumps(conversation("x")).replace('"Hi"', '"Hi", "latency_ms": ' + "9" * 5000)
    bad = refused(acme, jsonl(line))
    assert bad == {1: "a number has too many digits"}


def test_a_line_nested_too_deeply_is_a_bad_line(acme: Database) -> None:
    line = '{"id": "x", "company_id": "acme", "metadata": ' + "[" * 100_000 + "]" * 100_000 + "}"
    bad = refused(acme, jsonl(conversation("ok"), line))
    assert bad == {2: "not valid JSON: nested too deeply"}


@pytest.mark.parametrize(
    "changes",
    [
        {"message": {"created_at": "9999-12-31T23:59:59Z"}},
        {"message": {"created_at": "9999-12-31T23:00:00-05:00"}},
        {"message": {"created_at": "0001-01-01T00:30:00+01:00"}},
        {"message": {"created_at": "1900-01-01T00:00:00"}},
        {"started_at": "9999-01-01T00:00:00Z"},
        {"ended_at": "2150-01-01"},
    ],
)
def test_dates_outside_the_supported_range_are_refused_with_a_message(
    acme: Database, changes: dict[str, Any]
) -> None:
    bad = refused(acme, jsonl(conversation("ok"), conversation("x", **changes)))
    assert list(bad) == [2]
    assert "outside the supported range" in bad[2]


def test_every_bad_line_is_reported_once_and_skip_bad_imports_the_rest(acme: Database) -> None:
    text = jsonl(
        conversation("ok"),
        conversation("a", company_id="*"),
        conversation("b", message={"cost_usd": 1e400}),
        conversation("c", message={"created_at": "9999-12-31T00:00:00Z"}),
    )
    assert list(refused(acme, text)) == [2, 3, 4]
    report = import_conversations_text(acme, text, fmt="jsonl", skip_bad=True)
    assert report.conversations == 1
    assert [b.line for b in report.skipped] == [2, 3, 4]


CSV_HEAD = "conversation_id,company_id,role,content,created_at,cost_usd\n"


def test_csv_rows_of_one_conversation_naming_another_company_are_refused(
    acme: Database,
) -> None:
    with acme.session() as session:
        session.add(Company(id="globex", name="Globex"))
    text = (
        CSV_HEAD + "a,acme,user,Hi,2024-05-01 10:00:00,\n"
        "b,globex,user,Hello,2024-05-01 11:00:00,\n"
        "a,globex,assistant,Hi there,2024-05-01 10:00:03,\n"
    )
    bad = refused(acme, text, fmt="csv")
    assert list(bad) == [4]
    assert "'globex'" in bad[4] and "'acme'" in bad[4] and "line 2" in bad[4]
    report = import_conversations_text(acme, text, fmt="csv", skip_bad=True)
    assert report.conversations == 1  # "b"; the disputed conversation is not merged
    with acme.session() as session:
        assert session.get(Conversation, "a") is None


def test_each_bad_csv_row_is_reported_at_its_own_line(acme: Database) -> None:
    text = (
        CSV_HEAD + "a,acme,user,Hi,2024-05-01 10:00:00,\n"
        "a,acme,assistant,Hello,2024-05-01 10:00:02,inf\n"
        "a,acme,user,Thanks,9999-12-31 10:00:04,\n"
    )
    bad = refused(acme, text, fmt="csv")
    assert list(bad) == [3, 4]
    assert "cost_usd" in bad[3] and "finite" in bad[3]
    assert "created_at" in bad[4] and "outside the supported range" in bad[4]


def test_two_messages_with_one_seq_are_a_bad_line_not_a_crash(acme: Database) -> None:
    first = {"role": "user", "content": "a", "created_at": "2024-05-01T10:00:00Z", "seq": 1}
    second = {"role": "assistant", "content": "b", "created_at": "2024-05-01T10:00:01Z"}
    line = {"id": "x", "company_id": "acme", "messages": [first, second]}
    bad = refused(acme, jsonl(conversation("ok"), line))
    assert list(bad) == [2]
    assert "seq 1" in bad[2]
