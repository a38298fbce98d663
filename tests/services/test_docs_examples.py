"""The Python examples in docs/analytics.md, configuration.md and playground.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"


def python_blocks(name: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / name).read_text(), flags=re.S)


@pytest.mark.parametrize("name", ["analytics.md", "configuration.md", "playground.md"])
def test_python_examples_in_docs_run(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = python_blocks(name)
    assert blocks, f"no python example in {name}"
    for block in blocks:
        exec(compile(block, name, "exec"), {})
    assert capsys.readouterr().out.strip()
