"""The app factory uvicorn imports in each worker process of ``masterai serve``."""

from __future__ import annotations

from fastapi import FastAPI

from masterai.api.app import create_app
from masterai.app import Platform


def app() -> FastAPI:
    """The API over a platform built from the environment (``MASTERAI_*``)."""
    return create_app(Platform())
