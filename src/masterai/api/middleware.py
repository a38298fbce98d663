"""The app's one middleware, plain ASGI: security headers and single-valued query parameters.

Plain ASGI rather than ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware`` runs
each response through a task and a memory stream, which cost more CPU per request than the
rest of a small API call together (measured with ``benchmarks/load.py``).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from masterai.api.common import API, error_response

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
_ENCODED = [(name.encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]
_WITHOUT_CSP = [header for header in _ENCODED if header[0] != b"content-security-policy"]


def repeated_query_key(query_string: bytes) -> str | None:
    """A query parameter given more than once (it would silently mean its last value)."""
    seen: set[str] = set()
    for key, _ in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if key in seen:
            return key
        seen.add(key)
    return None


class ApiGuard:
    """Adds the security headers a response lacks; answers 400 to a repeated API parameter.

    The interactive docs page (``/docs``) loads its own script, so it gets no
    content-security-policy.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection scope."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = _WITHOUT_CSP if path == "/docs" else _ENCODED

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                missing = [(n, v) for n, v in headers if n not in present]
                if missing:
                    message = {**message, "headers": [*message.get("headers", []), *missing]}
            await send(message)

        repeated = repeated_query_key(scope["query_string"]) if path.startswith(API) else None
        if repeated is not None:
            message = f"Invalid query parameter {repeated!r}: given more than once"
            response = error_response("invalid", message, 400, repeated)
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)
