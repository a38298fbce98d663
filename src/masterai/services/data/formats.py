"""Data formats of the data tools: one vocabulary, chosen from a file name's extension."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from masterai.services.errors import InvalidInputError


class DataFormat(StrEnum):
    """The formats ``transform_data`` and ``validate_data`` read and write."""

    JSON = "json"
    JSONL = "jsonl"
    CSV = "csv"
    PARQUET = "parquet"

    @property
    def tabular(self) -> bool:
        """Whether the data is a table (a pandas DataFrame in Python)."""
        return self in (DataFormat.CSV, DataFormat.PARQUET)


_EXTENSIONS = {
    ".json": DataFormat.JSON,
    ".jsonl": DataFormat.JSONL,
    ".ndjson": DataFormat.JSONL,
    ".csv": DataFormat.CSV,
    ".parquet": DataFormat.PARQUET,
}


def format_of(path: str, key: str) -> DataFormat:
    """The format of the workspace file ``path`` (from ``key``), by its extension.

    Raises:
        InvalidInputError: the extension is not one of the supported ones.
    """
    lowered = path.lower()
    for extension, fmt in _EXTENSIONS.items():
        if lowered.endswith(extension):
            return fmt
    raise InvalidInputError(
        f"Unsupported file type for {key}: {path!r}. Supported: {', '.join(_EXTENSIONS)}"
    )


def parse_json_lines(data: bytes, key: str) -> list[Any]:
    """One JSON value per non-empty line.

    Raises:
        InvalidInputError: a line is not JSON (names the line).
    """
    rows: list[Any] = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise InvalidInputError(f"{key}: line {number} is not valid JSON ({e})") from e
    return rows


def parse_json(data: bytes, key: str) -> Any:
    """One JSON document.

    Raises:
        InvalidInputError: it is not valid JSON.
    """
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidInputError(f"{key} is not valid JSON ({e})") from e
