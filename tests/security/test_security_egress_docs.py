"""The Python examples of docs/security.md's "Egress guard" and "Model calls" run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SECURITY = Path(__file__).resolve().parents[2] / "docs" / "security.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def section(title: str) -> str:
    """The text of the ``## title`` section, up to the next ``## `` heading."""
    text = SECURITY.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


@pytest.mark.parametrize("title", ["Egress guard", "Model calls"])
def test_the_documented_python_examples_run(title: str) -> None:
    blocks = BLOCK.findall(section(title))
    assert blocks, f"section {title!r} has no python example"
    for block in blocks:
        exec(compile(block, f"docs/security.md ({title})", "exec"), {"__name__": "docs"})


def test_the_documented_egress_settings_are_the_real_ones() -> None:
    from masterai.settings import EgressSettings

    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", section("Egress guard"), re.MULTILINE))
    assert documented == {name.upper() for name in EgressSettings.model_fields}


def test_the_documented_model_call_keys_are_the_real_ones() -> None:
    import dataclasses

    from masterai.security.permissions import ModelCallPermissions, override_keys

    documented = set(re.findall(r"^\| `(model_calls\.\w+)` \|", section("Model calls"), re.M))
    fields = {f"model_calls.{f.name}" for f in dataclasses.fields(ModelCallPermissions)}
    assert documented == fields
    assert fields <= set(override_keys())
