"""The verification snippet of docs/events.md accepts real signatures and refuses forgeries."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from masterai.events import signature_headers

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def snippet() -> Callable[..., bool]:
    code = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)[0]
    namespace: dict[str, Any] = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    verify: Callable[..., bool] = namespace["verify_masterai"]
    return verify


def test_the_documented_receiver_check_accepts_a_signed_body_and_refuses_others() -> None:
    verify = snippet()
    body = b'{"id":"evt_1","type":"configuration.changed"}'
    headers = signature_headers("a-secret-of-16+chars", body)

    assert verify("a-secret-of-16+chars", body, headers)
    assert not verify("a-secret-of-16+chars", body + b" ", headers)
    assert not verify("another-secret-entirely", body, headers)
    old = signature_headers("a-secret-of-16+chars", body, now=time.time() - 3600)
    assert not verify("a-secret-of-16+chars", body, old)
