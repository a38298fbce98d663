"""Decoding call arguments from JSON text, the same way for every face (CLI, HTTP, MCP).

A face refuses text that is not one JSON object before the call reaches the registry's steps:
a key given twice (which value would win is a guess), ``NaN`` or ``Infinity`` (not JSON),
nesting too deep, anything but an object.
"""

from __future__ import annotations

import json
from typing import Any

from masterai.registry.errors import InvalidArguments


class _DuplicateKey(ValueError):
    pass


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(f"the key {key!r} appears twice")
        seen[key] = value
    return seen


def _refuse_constant(name: str) -> Any:
    raise _DuplicateKey(f"{name} is not a JSON number")


def decode_arguments(text: str | bytes, where: str) -> dict[str, Any]:
    """``text`` as a JSON object of arguments.

    Args:
        text: the JSON text (bytes must be UTF-8).
        where: what the text is, for messages (``--args``, ``the request body``).

    Raises:
        InvalidArguments: not UTF-8, not JSON, a duplicate key, ``NaN``/``Infinity``, nested
            too deeply, or not an object; the message names ``where`` and the problem.
    """
    shown = text[:80] if isinstance(text, str) else text[:80].decode("utf-8", "replace")
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")  # JSON is UTF-8; never guess another encoding
        decoded = json.loads(
            text, object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant
        )
    except _DuplicateKey as e:
        raise InvalidArguments(f"Invalid {where}: {e}") from e
    except UnicodeDecodeError as e:
        raise InvalidArguments(f"Invalid {where}: not UTF-8 text ({e.reason})") from e
    except json.JSONDecodeError as e:
        raise InvalidArguments(
            f"Invalid {where}: not JSON ({e.msg} at position {e.pos}): {shown!r}"
        ) from e
    except RecursionError as e:
        raise InvalidArguments(f"Invalid {where}: JSON nested too deeply") from e
    if not isinstance(decoded, dict):
        raise InvalidArguments(
            f"Invalid {where}: expected a JSON object like '{{\"a\": 1}}', got {shown!r}"
        )
    return decoded
