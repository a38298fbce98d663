"""``transform_data``: the caller's code over data, in the sandbox.

The data travels as a file in the run's working directory (never inside the program text):
the program is a fixed one-liner that starts the runner (``runners/transform.py`` or
``runners/transform.js``), which loads the data, runs the caller's code and writes what it
assigned to ``result``. Without a ``result``, what the code printed is the answer (as JSON
when it parses as JSON, else as text).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from masterai.sandbox import CodeExecutionRequest, ExecutionResult
from masterai.sandbox.languages import RUNNERS
from masterai.sandbox.sessions import SessionHandle
from masterai.services.data.formats import DataFormat
from masterai.services.errors import InvalidInputError, ServiceError

LANGUAGES = ("python", "javascript")
_CODE_FILE = {"python": "transform_code.py", "javascript": "transform_code.js"}
_PROGRAM = {
    "python": f'import runpy\nrunpy.run_path("{RUNNERS}/transform.py", run_name="__main__")\n',
    "javascript": f'require("{RUNNERS}/transform.js");\n',
}
RESULT_FILES = tuple(f"transform_result.{f.value}" for f in DataFormat if f != DataFormat.JSONL)
"""What the runner writes (never saved to a session)."""


class TransformFailedError(ServiceError):
    """The caller's code failed, or its result could not be read."""


@dataclass(frozen=True, kw_only=True)
class TransformOutput:
    """What a transformation produced."""

    value: Any = None
    """The ``result`` (or printed JSON / text); ``None`` when written as a table."""
    content: bytes | None = None
    """The bytes to write to ``output`` (JSON, JSONL, CSV or Parquet)."""
    source: str = "result"
    """``result`` (assigned), ``stdout`` (printed) or ``none``."""


def build_request(
    *,
    language: str,
    code: str,
    data: Any,
    content: bytes | None,
    input_format: DataFormat,
    output_format: DataFormat,
    allowed_packages: Sequence[str] | None,
    session: SessionHandle | None,
    timeout: float | None = None,
    memory: str | int | None = None,
) -> CodeExecutionRequest:
    """The sandbox run of one transformation.

    Raises:
        InvalidInputError: the language cannot read or write these formats.
    """
    if language not in LANGUAGES:
        raise InvalidInputError(
            f"Unsupported language for transform_data: {language!r}. Allowed: "
            f"{', '.join(LANGUAGES)}"
        )
    if language == "javascript" and DataFormat.PARQUET in (input_format, output_format):
        raise InvalidInputError("Parquet needs language 'python' (JavaScript reads JSON and CSV)")
    if content is None:
        content = json.dumps(data).encode()
    input_name = f"transform_input.{input_format.value}"
    job = {"input": input_name, "format": input_format.value, "output": output_format.value}
    support: list[str] = []
    if language == "python" and (input_format.tabular or output_format.tabular):
        support = ["pandas", "pyarrow"]
    elif language == "javascript" and DataFormat.CSV in (input_format, output_format):
        support = ["papaparse"]
    return CodeExecutionRequest(
        code=_PROGRAM[language],
        language=language,
        files={
            "transform_job.json": json.dumps(job).encode(),
            _CODE_FILE[language]: code.encode(),
            input_name: content,
        },
        timeout=timeout,
        memory=memory,
        allowed_packages=allowed_packages,
        support_packages=support,
        session=session,
        session_skip=RESULT_FILES,
    )


def read_output(result: ExecutionResult, output_format: DataFormat | None) -> TransformOutput:
    """The answer of a finished run (``output_format``: the ``output`` file's, if any).

    Raises:
        TransformFailedError: the code failed, or printed nothing usable for a table output.
    """
    if not result.ok:
        if result.timed_out:
            why = "ran out of time"
        elif result.memory_exceeded:
            why = "ran out of memory"
        else:
            why = f"exited with status {result.exit_code}"
        tail = "\n".join(result.error.strip().splitlines()[-6:])
        raise TransformFailedError(f"The transformation {why}:\n{tail}".rstrip())
    fmt = output_format or DataFormat.JSON
    name = f"transform_result.{fmt.value if fmt != DataFormat.JSONL else 'json'}"
    produced = result.files.get(name)
    if produced is not None:
        if fmt.tabular:
            return TransformOutput(content=produced)
        value = json.loads(produced)
        return TransformOutput(value=value, content=_encode(value, fmt, output_format))
    if fmt.tabular:
        raise TransformFailedError(
            f"Writing {fmt.value.upper()} needs a table: assign it to `result` (a DataFrame "
            "or a list of row objects)"
        )
    printed = result.output.strip()
    if not printed:
        return TransformOutput(value=None, content=_encode(None, fmt, output_format), source="none")
    try:
        value = json.loads(printed)
    except json.JSONDecodeError:
        value = result.output
    return TransformOutput(value=value, content=_encode(value, fmt, output_format), source="stdout")


def _encode(value: Any, fmt: DataFormat, output_format: DataFormat | None) -> bytes | None:
    if output_format is None:
        return None
    if fmt is DataFormat.JSONL:
        if not isinstance(value, list):
            raise TransformFailedError("Writing JSONL needs a list as `result`")
        return "".join(json.dumps(item) + "\n" for item in value).encode()
    return json.dumps(value, indent=2).encode() + b"\n"
