"""Who is calling over HTTP, and from where.

API clients send ``Authorization: Bearer <token>`` (tokens from ``masterai user token``,
stored hashed, with expiry and revocation). The audit's client address is the TCP peer, or
the first address in ``X-Forwarded-For`` that is not a trusted proxy when the peer is one
(``MASTERAI_API__TRUSTED_PROXIES``).
"""

from __future__ import annotations

from fastapi import Request

from masterai.app import Platform
from masterai.security import AuthenticationError, Principal
from masterai.security.addresses import forwarded_client
from masterai.store.models import ApiToken

BEARER = "bearer "


class Unauthenticated(Exception):
    """The request carries no valid credentials (answered 401)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def client_address(request: Request, trusted_proxies: list[str]) -> str:
    """The caller's address for the audit (``X-Forwarded-For`` only through trusted proxies)."""
    peer = request.client.host if request.client else "unknown"
    return forwarded_client(peer, request.headers.get("x-forwarded-for", ""), trusted_proxies)


def bearer_token(request: Request) -> str | None:
    """The bearer token of the request, if it sends one."""
    header = request.headers.get("authorization", "")
    if header[: len(BEARER)].lower() != BEARER:
        return None
    return header[len(BEARER) :].strip() or None


def principal_of(platform: Platform, request: Request) -> Principal:
    """The principal a request authenticates as.

    Raises:
        Unauthenticated: no token, or an unknown, revoked or expired one.
    """
    token = bearer_token(request)
    if token is None:
        raise Unauthenticated("Missing credentials: send 'Authorization: Bearer <token>'")
    try:
        return platform.tokens.authenticate(token)
    except AuthenticationError as e:
        raise Unauthenticated(str(e)) from e


def token_auto_approves(platform: Platform, principal: Principal) -> bool:
    """Whether ``principal`` called with a token granted auto-approval (``--auto-approve``).

    Only such a request's own ``?approve=true`` approves a call that needs approval.
    """
    if principal.token_id is None:
        return False
    with platform.database.session() as session:
        row = session.get(ApiToken, principal.token_id)
        return bool(row is not None and row.auto_approve and row.revoked_at is None)
