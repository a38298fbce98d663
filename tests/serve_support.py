"""Starting a real ``masterai serve`` in tests: a free loopback port, waiting for it to answer."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

MASTERAI = str(Path(sys.executable).with_name("masterai"))
"""The ``masterai`` command of the environment running the tests."""


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(
    base: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 30
) -> None:
    """Wait until ``base``/healthz answers 200; fail with the server's log if it exits first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"masterai serve did not answer within {seconds} s")
