"""Every Python block in docs/ai_tool.md and src/ai_tool/README.md runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("doc", "minimum_blocks"), [("docs/ai_tool.md", 6), ("src/ai_tool/README.md", 1)]
)
def test_the_code_in_the_ai_tool_docs_runs(doc: str, minimum_blocks: int):
    path = REPO / doc
    blocks = re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)
    assert len(blocks) >= minimum_blocks
    namespace: dict[str, object] = {"__name__": "ai_tool_docs"}  # shared, in page order
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{path.name} block {number}", "exec"), namespace)
