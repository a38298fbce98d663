"""The Python examples in docs/code-tools.md run (each asserts what the page says)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from service_guard import require_service

DOC = Path(__file__).resolve().parents[2] / "docs" / "code-tools.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)


def test_the_page_has_its_examples() -> None:
    assert len(EXAMPLES) == 3


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example-{i}" for i in range(len(EXAMPLES))])
def test_python_example_runs(code: str) -> None:
    require_service(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    exec(compile(code, str(DOC), "exec"), {"__name__": "docs_example"})
