"""``code.validate_data``: JSON Schema and table schemas, in-process and fast."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import duckdb
from code_data_helpers import body, user

from masterai.registry import ToolRegistry
from masterai.services.data.formats import DataFormat
from masterai.services.data.validation import validate

ACME = user("val", companies={"acme"})
PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name"],
}
TABLE = {
    "columns": {
        "id": {"type": "integer", "required": True, "unique": True},
        "email": {"required": True, "pattern": "^[^@]+@[^@]+$"},
        "amount": {"type": "number", "minimum": 0, "maximum": 1000},
        "plan": {"enum": ["free", "pro"]},
    }
}


async def check(registry: ToolRegistry, args: dict[str, Any]) -> Any:
    return await registry.execute_tool("code", {"operation": "validate_data", **args}, ACME)


def test_valid_json_is_valid() -> None:
    report = validate(schema=PERSON, data={"name": "a", "age": 3})
    assert report["valid"] is True
    assert report["error_count"] == 0


def test_json_errors_name_their_path_row_and_column() -> None:
    report = validate(
        schema={"type": "array", "items": PERSON},
        data=[{"name": "a"}, {"age": -1}],
    )
    assert report["valid"] is False
    assert report["counts"] == {"minimum": 1, "required": 1}
    minimum = next(e for e in report["errors"] if e["rule"] == "minimum")
    assert (minimum["path"], minimum["row"], minimum["column"]) == ("/1/age", 2, "age")


def test_jsonl_rows_are_lines() -> None:
    content = b'{"name": "a"}\n\n{"name": 5}\n'
    report = validate(schema=PERSON, content=content, fmt=DataFormat.JSONL)
    assert report["rows"] == 2
    assert [(e["row"], e["column"], e["rule"]) for e in report["errors"]] == [(2, "name", "type")]


def test_an_invalid_json_schema_is_one_clear_error() -> None:
    try:
        validate(schema={"type": "strnig"}, data=1)
    except ValueError as e:
        assert "schema is not a valid JSON Schema at type" in str(e)
    else:
        raise AssertionError("no error")


def test_a_table_schema_checks_every_rule() -> None:
    csv = b"id,email,amount,plan\n1,a@x.io,10,free\n1,broken,-1,gold\nx,,2000,pro\n"
    report = validate(schema=TABLE, content=csv, fmt=DataFormat.CSV)
    assert report["valid"] is False
    assert report["counts"] == {
        "enum": 1,
        "maximum": 1,
        "minimum": 1,
        "pattern": 1,
        "required": 1,
        "type": 1,
        "unique": 1,
    }
    found = {(e["row"], e["column"], e["rule"]) for e in report["errors"]}
    assert (2, "id", "unique") in found
    assert (3, "id", "type") in found
    assert (3, "email", "required") in found


def test_missing_and_unexpected_columns_are_reported() -> None:
    schema = {"columns": {"id": {"required": True}}, "additional_columns": False}
    report = validate(schema=schema, content=b"name\nx\n", fmt=DataFormat.CSV)
    assert {e["message"] for e in report["errors"]} == {
        "required column 'id' is missing",
        "column 'name' is not in the schema",
    }


def test_a_malformed_table_schema_names_the_field() -> None:
    try:
        validate(schema={"columns": {"a": {"type": "text"}}}, data=[{"a": "1"}])
    except ValueError as e:
        assert "invalid table schema at columns.a" in str(e)
        assert "unknown type 'text'" in str(e)
    else:
        raise AssertionError("no error")


def test_parquet_is_checked_with_a_table_schema(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    duckdb.sql(f"COPY (SELECT range AS id, range * 300 AS amount FROM range(5)) TO '{path}'")
    report = validate(schema=TABLE | {"columns": {"id": TABLE["columns"]["id"],
                                                  "amount": TABLE["columns"]["amount"]}},
                      content=path.read_bytes(), fmt=DataFormat.PARQUET)  # fmt: skip
    assert report["rows"] == 5
    assert [(e["row"], e["value"]) for e in report["errors"]] == [(5, "1200")]


def big_csv(rows: int) -> tuple[bytes, dict[str, int]]:
    rng = random.Random(7)
    lines = ["id,email,amount,plan"]
    expected = {"pattern": 0, "minimum": 0, "unique": 0, "enum": 0}
    for i in range(1, rows + 1):
        email = "broken" if i % 97 == 0 else f"u{i}@x.io"
        amount = -5 if i % 101 == 0 else rng.randint(0, 1000)
        ident = 1 if i % 1009 == 0 else i
        plan = "gold" if i % 503 == 0 else "pro"
        expected["pattern"] += i % 97 == 0
        expected["minimum"] += i % 101 == 0
        expected["unique"] += i % 1009 == 0
        expected["enum"] += i % 503 == 0
        lines.append(f"{ident},{email},{amount},{plan}")
    return ("\n".join(lines) + "\n").encode(), expected


async def test_a_100000_row_csv_with_errors_validates_quickly_through_the_tool(
    registry: ToolRegistry, workspace: Path
) -> None:
    content, expected = big_csv(100_000)
    target = workspace / "companies/acme/big.csv"
    target.parent.mkdir(parents=True)
    target.write_bytes(content)
    started = time.perf_counter()
    result = await check(
        registry, {"input_file": "companies/acme/big.csv", "schema": TABLE, "max_errors": 50}
    )
    elapsed = time.perf_counter() - started
    assert result.ok, result.error
    report = body(result.content)["result"]
    assert report["rows"] == 100_000
    assert report["counts"] == expected
    assert report["error_count"] == sum(expected.values())
    assert len(report["errors"]) == 50
    assert report["truncated"] is True
    assert [e["row"] for e in report["errors"]] == sorted(e["row"] for e in report["errors"])
    assert elapsed < 3.0, f"validate_data took {elapsed:.2f}s on 100,000 rows"


async def test_inline_rows_take_a_table_schema(registry: ToolRegistry) -> None:
    result = await check(
        registry,
        {"data": [{"id": 1, "email": "a@b"}, {"id": 1, "email": "c@d"}], "schema": TABLE},
    )
    assert result.ok, result.error
    report = body(result.content)["result"]
    assert report["counts"] == {"unique": 1}
    assert "Invalid: 1 errors in 2 rows" in body(result.content)["summary"]


async def test_a_json_schema_for_a_csv_file_is_refused(
    registry: ToolRegistry, workspace: Path
) -> None:
    (workspace / "companies/acme").mkdir(parents=True)
    (workspace / "companies/acme/a.csv").write_text("a\n1\n")
    result = await check(registry, {"input_file": "companies/acme/a.csv", "schema": PERSON})
    assert not result.ok
    assert "give a table schema" in (result.error or "")
