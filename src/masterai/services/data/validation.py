"""``validate_data``: JSON Schema for JSON and JSONL, a table schema for CSV and Parquet.

Runs in-process (no user code). JSON and JSONL are checked with ``jsonschema`` (draft
2020-12, formats checked). Tables are loaded as text columns into DuckDB and each rule of
the table schema is one vectorised query, so a 100,000-row CSV validates in well under a
second. A table schema::

    {"columns": {"id": {"type": "integer", "required": true, "unique": true},
                 "email": {"type": "string", "pattern": "^[^@]+@[^@]+$"},
                 "amount": {"type": "number", "minimum": 0, "maximum": 1000},
                 "plan": {"enum": ["free", "pro"]}},
     "additional_columns": false}

Column rules: ``type`` (``string``, ``integer``, ``number``, ``boolean``, ``date``,
``datetime``), ``required`` (present and not empty), ``unique``, ``minimum``/``maximum``,
``min_length``/``max_length``, ``pattern`` (RE2 syntax, searched like JSON Schema's) and
``enum``. Every error has a ``path``, a ``row`` (1-based data row; for JSONL the line) and a
``column``; at most ``max_errors`` are listed, and ``error_count`` and ``counts`` (per rule)
count them all.
"""

from __future__ import annotations

import io
import math
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import duckdb
import jsonschema
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from masterai.services.data.formats import DataFormat, parse_json, parse_json_lines
from masterai.services.errors import InvalidInputError

DEFAULT_MAX_ERRORS = 100
_TYPES = {
    "string": None,
    "integer": "BIGINT",
    "number": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMP",
}


class ColumnRule(BaseModel):
    """The rules of one column of a table schema (a file read from users: pydantic)."""

    model_config = ConfigDict(extra="forbid")

    type: str = "string"
    required: bool = False
    unique: bool = False
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=0)
    pattern: str | None = None
    enum: list[str | int | float | bool] | None = None

    @model_validator(mode="after")
    def _known_type(self) -> ColumnRule:
        if self.type not in _TYPES:
            raise ValueError(f"unknown type {self.type!r}; allowed: {', '.join(_TYPES)}")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as e:
                raise ValueError(f"invalid pattern {self.pattern!r}: {e}") from e
        return self


class TableSchema(BaseModel):
    """A table schema: its columns by name, and whether other columns may appear."""

    model_config = ConfigDict(extra="forbid")

    columns: dict[str, ColumnRule]
    additional_columns: bool = True


@dataclass(kw_only=True)
class Report:
    """The answer of ``validate_data``."""

    valid: bool = True
    format: str
    rows: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    max_errors: int = DEFAULT_MAX_ERRORS

    def add(self, rule: str, message: str, *, path: str, row: int | None, column: str | None,
            value: Any = None) -> None:  # fmt: skip
        """Count one error, and list it while under the cap."""
        self.valid = False
        self.counts[rule] += 1
        if len(self.errors) < self.max_errors:
            error = {"path": path, "row": row, "column": column, "rule": rule, "message": message}
            if value is not None:
                error["value"] = value
            self.errors.append(error)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        total = sum(self.counts.values())
        self.errors.sort(key=lambda e: (e["row"] or 0, e["column"] or ""))
        del self.errors[self.max_errors :]
        return {
            "valid": self.valid,
            "format": self.format,
            "rows": self.rows,
            "error_count": total,
            "errors": self.errors,
            "truncated": total > len(self.errors),
            "counts": dict(sorted(self.counts.items())),
        }


def is_table_schema(schema: dict[str, Any]) -> bool:
    """Whether ``schema`` is a table schema (it has ``columns``) rather than a JSON Schema."""
    return "columns" in schema and "$schema" not in schema


def validate(
    *,
    schema: dict[str, Any],
    data: Any = None,
    content: bytes | None = None,
    fmt: DataFormat = DataFormat.JSON,
    max_errors: int = DEFAULT_MAX_ERRORS,
    key: str = "input_file",
) -> dict[str, Any]:
    """Validate inline ``data`` or a file's ``content`` of format ``fmt`` against ``schema``.

    Raises:
        InvalidInputError: the schema is malformed, the content cannot be parsed, or the
            schema kind does not fit the format (a table schema needs rows).
    """
    report = Report(format=fmt.value if content is not None else "inline", max_errors=max_errors)
    if is_table_schema(schema):
        table = _table_schema(schema)
        frame = _frame(data, content, fmt, key)
        _validate_table(table, frame, report)
    else:
        validator = _json_validator(schema)
        if content is not None and fmt.tabular:
            raise InvalidInputError(
                f"{key} is {fmt.value.upper()}: give a table schema ({{'columns': {{...}}}}), "
                "not a JSON Schema"
            )
        if content is not None and fmt is DataFormat.JSONL:
            rows = parse_json_lines(content, key)
            report.rows = len(rows)
            for line, row in enumerate(rows, start=1):
                _json_errors(validator, row, report, line=line)
        else:
            document = parse_json(content, key) if content is not None else data
            report.rows = len(document) if isinstance(document, list) else 1
            _json_errors(validator, document, report, line=None)
    return report.to_json()


def _json_validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as e:
        where = "/".join(str(p) for p in e.path) or "(root)"
        raise InvalidInputError(f"schema is not a valid JSON Schema at {where}: {e.message}") from e
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def _json_errors(
    validator: jsonschema.Draft202012Validator, value: Any, report: Report, *, line: int | None
) -> None:
    for error in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.path))):
        parts = list(error.absolute_path)
        row = line
        if row is None and isinstance(value, list) and parts and isinstance(parts[0], int):
            row = parts[0] + 1  # a top-level array: its items are the rows
        names = [p for p in parts if isinstance(p, str)]
        pointer = "/" + "/".join(str(p) for p in parts) if parts else ""
        report.add(
            str(error.validator),
            error.message,
            path=pointer if line is None else f"{line}{pointer}",
            row=row,
            column=names[0] if names else None,
        )


def _table_schema(schema: dict[str, Any]) -> TableSchema:
    try:
        return TableSchema.model_validate(schema)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "schema"
        raise InvalidInputError(f"invalid table schema at {where}: {first['msg']}") from e


def _frame(data: Any, content: bytes | None, fmt: DataFormat, key: str) -> pd.DataFrame:
    """The table as text columns (missing values as ``None``), with its 1-based ``__row``."""
    if content is None:
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise InvalidInputError("data: a table schema needs a list of row objects")
        frame = pd.DataFrame([{k: _text(v) for k, v in r.items()} for r in data], dtype=object)
    elif fmt is DataFormat.CSV:
        try:
            frame = pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False, na_values=[])
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as e:
            raise InvalidInputError(f"{key} is not valid CSV: {e}") from e
        frame = frame.replace("", None).astype(object)
    elif fmt is DataFormat.PARQUET:
        return _parquet_frame(content, key)
    else:
        rows = (
            parse_json_lines(content, key) if fmt is DataFormat.JSONL else parse_json(content, key)
        )
        return _frame(rows, None, fmt, key)
    frame.insert(0, "__row", range(1, len(frame) + 1))
    return frame


def _parquet_frame(content: bytes, key: str) -> pd.DataFrame:
    with tempfile.NamedTemporaryFile(suffix=".parquet") as handle:
        handle.write(content)
        handle.flush()
        try:
            with duckdb.connect() as con:
                return con.execute(
                    "SELECT file_row_number + 1 AS __row, "
                    "COLUMNS(* EXCLUDE (file_row_number))::VARCHAR "
                    "FROM read_parquet(?, file_row_number = true)",
                    [handle.name],
                ).df()
        except duckdb.Error as e:
            raise InvalidInputError(f"{key} is not a readable Parquet file: {e}") from e


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _validate_table(schema: TableSchema, frame: pd.DataFrame, report: Report) -> None:
    report.rows = len(frame)
    present = [c for c in frame.columns if c != "__row"]
    for name, rule in schema.columns.items():
        if name not in present and rule.required:
            report.add("column", f"required column {name!r} is missing", path=name, row=None,
                       column=name)  # fmt: skip
    if not schema.additional_columns:
        for name in present:
            if name not in schema.columns:
                report.add("column", f"column {name!r} is not in the schema", path=name,
                           row=None, column=name)  # fmt: skip
    with duckdb.connect() as con:
        con.register("t", frame)
        for name, rule in schema.columns.items():
            if name in present:
                for check, condition, params in _checks(_quote(name), rule):
                    _run_check(con, report, name, rule, check, condition, params)


def _checks(col: str, rule: ColumnRule) -> list[tuple[str, str, list[Any]]]:
    """(rule, SQL condition of a failing row, parameters) for one column."""
    checks: list[tuple[str, str, list[Any]]] = []
    cast = _TYPES[rule.type]
    if rule.required:
        checks.append(("required", f"{col} IS NULL", []))
    if cast is not None:
        checks.append(("type", f"{col} IS NOT NULL AND TRY_CAST({col} AS {cast}) IS NULL", []))
    if rule.unique:
        checks.append(
            (
                "unique",
                f"{col} IS NOT NULL AND row_number() OVER (PARTITION BY {col} ORDER BY __row) > 1",
                [],
            )
        )
    if rule.minimum is not None:
        checks.append(("minimum", f"TRY_CAST({col} AS DOUBLE) < ?", [rule.minimum]))
    if rule.maximum is not None:
        checks.append(("maximum", f"TRY_CAST({col} AS DOUBLE) > ?", [rule.maximum]))
    if rule.min_length is not None:
        checks.append(("min_length", f"length({col}) < ?", [rule.min_length]))
    if rule.max_length is not None:
        checks.append(("max_length", f"length({col}) > ?", [rule.max_length]))
    if rule.pattern is not None:
        checks.append(("pattern", f"NOT regexp_matches({col}, ?)", [rule.pattern]))
    if rule.enum is not None:
        allowed = [_text(v) for v in rule.enum]
        checks.append(("enum", f"NOT list_contains(?::VARCHAR[], {col})", [allowed]))
    return checks


_MESSAGES = {
    "required": "value is missing",
    "type": "{value!r} is not of type {type}",
    "unique": "{value!r} repeats an earlier row",
    "minimum": "{value!r} is less than the minimum {minimum}",
    "maximum": "{value!r} is greater than the maximum {maximum}",
    "min_length": "{value!r} is shorter than {min_length} characters",
    "max_length": "{value!r} is longer than {max_length} characters",
    "pattern": "{value!r} does not match {pattern!r}",
    "enum": "{value!r} is not one of {enum}",
}


def _run_check(
    con: duckdb.DuckDBPyConnection,
    report: Report,
    column: str,
    rule: ColumnRule,
    check: str,
    condition: str,
    params: list[Any],
) -> None:
    col = _quote(column)
    # QUALIFY: the unique check's window function filters after it is computed.
    where = "QUALIFY" if "OVER" in condition else "WHERE"
    failing = f"SELECT __row, {col} AS v FROM t {where} {condition}"
    count = con.execute(f"SELECT count(*) FROM ({failing})", params).fetchone()
    total = int(count[0]) if count else 0
    if not total:
        return
    # Up to the cap from every check; the report keeps the first rows over all checks.
    limit = report.max_errors
    rows = con.execute(f"{failing} ORDER BY __row LIMIT {limit}", params).fetchall()
    fields: dict[str, Any] = rule.model_dump()
    for row, value in rows:
        fields["value"] = value
        report.errors.append(
            {
                "path": f"{row}/{column}",
                "row": int(row),
                "column": column,
                "rule": check,
                "message": f"{column}: {_MESSAGES[check].format(**fields)}",
                "value": value,
            }
        )
    report.counts[check] += total
    report.valid = False
