"""The HTTP API of ``masterai serve`` (FastAPI): every action through the tool registry.

Entry point: :func:`create_app` (``create_app(Platform(settings))``). See ``docs/http.md``.
"""

from masterai.api.app import create_app

__all__ = ["create_app"]
