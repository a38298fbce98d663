"""The Python examples in docs/agent.md and docs/llm.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


@pytest.mark.parametrize("name", ["agent.md", "llm.md"])
def test_documented_python_examples_run(name: str) -> None:
    blocks = BLOCK.findall((DOCS / name).read_text())
    assert blocks, f"{name} has no python example"
    for block in blocks:
        exec(compile(block, f"docs/{name}", "exec"), {"__name__": "docs_example"})
