"""Webhook subscriptions and their delivery log: :class:`WebhookRepository`.

A subscription belongs to a company (it receives only that company's events) or to the
platform (every event; only principals who may read every company may create or see one).
Who may see or manage a subscription is decided here from the caller's data access; whether
the caller may use the integration tool and reach the URL is the registry's policy.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from masterai.events.errors import EventsDenied, EventsNotFound, InvalidSubscription
from masterai.events.types import DeliveryStatus, check_pattern
from masterai.security.permissions import ANY
from masterai.security.principals import Principal
from masterai.store import Database
from masterai.store.models import Company, Webhook, utcnow
from masterai.store.models.events import DeliveryAttempt, Event, WebhookDelivery

MAX_SECRET = 512
MAX_LIST = 500


def reads_every_company(principal: Principal) -> bool:
    """Whether ``principal`` may read every company (needed for platform subscriptions)."""
    data = principal.permissions.data_access
    return ANY in data.read_companies or ANY in data.write_companies


def may_see(principal: Principal, company_id: str | None) -> bool:
    """Whether ``principal`` may see a subscription of ``company_id`` (``None``: platform)."""
    if company_id is None:
        return reads_every_company(principal)
    return principal.permissions.data_access.can_read(company_id)


def may_manage(principal: Principal, company_id: str | None) -> bool:
    """Whether ``principal`` may create, remove or redeliver for ``company_id``'s webhooks."""
    if company_id is None:
        return reads_every_company(principal)
    return principal.permissions.data_access.can_write(company_id)


@dataclass(frozen=True, kw_only=True)
class WebhookInfo:
    """A subscription as callers see it (the secret only right after it was generated)."""

    id: int
    name: str
    url: str
    events: list[str]
    company_id: str | None
    enabled: bool
    created_by: str | None
    created_at: datetime
    has_secret: bool
    secret: str | None = None
    """Set once, when the secret was generated for the caller; store it, it is not shown again."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        data = {k: v for k, v in self.__dict__.items() if k != "secret"}
        data["created_at"] = self.created_at.isoformat()
        if self.secret is not None:
            data["secret"] = self.secret
        return data


@dataclass(frozen=True, kw_only=True)
class AttemptInfo:
    """One try of a delivery."""

    number: int
    started_at: datetime
    duration_ms: float
    status_code: int | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return {**self.__dict__, "started_at": self.started_at.isoformat()}


@dataclass(frozen=True, kw_only=True)
class DeliveryInfo:
    """One event to one webhook, with every attempt."""

    id: int
    webhook_id: int
    webhook: str
    event_id: str
    event_type: str
    company_id: str | None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    history: list[AttemptInfo] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        data = {k: v for k, v in self.__dict__.items() if k != "history"}
        data["created_at"] = self.created_at.isoformat()
        data["next_attempt_at"] = self.next_attempt_at.isoformat() if self.next_attempt_at else None
        data["history"] = [a.to_dict() for a in self.history]
        return data


def _info(row: Webhook, secret: str | None = None) -> WebhookInfo:
    return WebhookInfo(
        id=row.id,
        name=row.name,
        url=row.url,
        events=list(row.events),
        company_id=row.company_id,
        enabled=row.enabled,
        created_by=row.created_by,
        created_at=row.created_at,
        has_secret=bool(row.secret),
        secret=secret,
    )


def check_url(url: object) -> str:
    """``url`` if it is an absolute http(s) URL (the egress guard decides where it may go).

    Raises:
        InvalidSubscription: naming the value.
    """
    if isinstance(url, str) and len(url) <= 2000:
        try:
            parts = urlsplit(url)
        except ValueError:
            parts = None
        if parts is not None and parts.scheme in ("http", "https") and parts.hostname:
            return url
    raise InvalidSubscription(f"invalid webhook URL {url!r}: expected http(s)://host/path")


class WebhookRepository:
    """Subscriptions, deliveries and redelivery, for a principal (see the module docstring)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def create(
        self,
        principal: Principal,
        *,
        event: str,
        url: str,
        secret: str | None = None,
        company_id: str | None = None,
        name: str | None = None,
    ) -> WebhookInfo:
        """Subscribe ``url`` to ``event`` (a type, ``family.*`` or ``*``).

        Without ``secret`` one is generated and returned once in :attr:`WebhookInfo.secret`.

        Raises:
            InvalidSubscription: a malformed event, URL, secret or name, or a name in use.
            EventsDenied: the caller may not manage that company's (or the platform's) hooks.
            EventsNotFound: the company does not exist.
        """
        try:
            pattern = check_pattern(event)
        except ValueError as e:
            raise InvalidSubscription(str(e)) from None
        url = check_url(url)
        generated = None
        if secret is None:
            secret = generated = secrets.token_urlsafe(32)
        if not isinstance(secret, str) or not 16 <= len(secret) <= MAX_SECRET:
            raise InvalidSubscription(
                f"a webhook secret must be 16 to {MAX_SECRET} characters; got {len(str(secret))}"
            )
        if not may_manage(principal, company_id):
            raise EventsDenied(_denial(principal, company_id))
        name = name or f"{pattern.replace('*', 'all').rstrip('.')}-{secrets.token_hex(4)}"
        if not isinstance(name, str) or not 1 <= len(name) <= 128:
            raise InvalidSubscription(f"invalid webhook name {name!r}: 1 to 128 characters")
        with self.database.session() as session:
            if company_id is not None and session.get(Company, company_id) is None:
                raise EventsNotFound(f"unknown company {company_id!r}")
            row = Webhook(
                name=name,
                url=url,
                events=[pattern],
                secret=secret,
                company_id=company_id,
                created_by=principal.name,
            )
            session.add(row)
            try:
                session.flush()
            except IntegrityError:
                raise InvalidSubscription(f"a webhook named {name!r} already exists") from None
            return _info(row, generated)

    def visible(self, principal: Principal, *, company_id: str | None = None) -> list[WebhookInfo]:
        """The subscriptions ``principal`` may see (of one company, when given)."""
        with self.database.session() as session:
            query = sa.select(Webhook).order_by(Webhook.id).limit(MAX_LIST)
            if company_id is not None:
                query = query.where(Webhook.company_id == company_id)
            rows = session.scalars(query)
            return [_info(r) for r in rows if may_see(principal, r.company_id)]

    def delete(self, principal: Principal, webhook: int | str) -> WebhookInfo:
        """Remove a subscription (by id or name) and its delivery log.

        Raises:
            EventsNotFound: no such webhook visible to the caller.
            EventsDenied: visible, but the caller may not manage it.
        """
        with self.database.session() as session:
            row = self._find(session, principal, webhook)
            if not may_manage(principal, row.company_id):
                raise EventsDenied(_denial(principal, row.company_id))
            info = _info(row)
            session.delete(row)
            return info

    def deliveries(
        self,
        principal: Principal,
        *,
        webhook: int | str | None = None,
        status: str | None = None,
        limit: int = 50,
    ) -> list[DeliveryInfo]:
        """The newest deliveries (of one webhook, of one status) the caller may see."""
        if status is not None and status not in set(DeliveryStatus):
            allowed = ", ".join(s.value for s in DeliveryStatus)
            raise InvalidSubscription(f"unknown delivery status {status!r}. Allowed: {allowed}")
        with self.database.session() as session:
            query = (
                sa.select(WebhookDelivery, Webhook, Event)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .join(Event, Event.id == WebhookDelivery.event_id)
                .order_by(WebhookDelivery.id.desc())
            )
            if webhook is not None:
                query = query.where(Webhook.id == self._find(session, principal, webhook).id)
            if status is not None:
                query = query.where(WebhookDelivery.status == status)
            found = [
                (d, w, e)
                for d, w, e in session.execute(query.limit(max(1, min(limit, MAX_LIST)) * 4))
                if may_see(principal, w.company_id)
            ][: max(1, min(limit, MAX_LIST))]
            return _with_attempts(session, found)

    def redeliver(self, principal: Principal, delivery_id: int) -> DeliveryInfo:
        """Queue a delivery again now, with a fresh attempt budget (the log is kept).

        Raises:
            EventsNotFound: no such delivery visible to the caller.
            EventsDenied: the caller may not manage its webhook.
        """
        with self.database.session() as session:
            found = session.execute(
                sa.select(WebhookDelivery, Webhook, Event)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .join(Event, Event.id == WebhookDelivery.event_id)
                .where(WebhookDelivery.id == delivery_id)
            ).first()
            if found is None or not may_see(principal, found[1].company_id):
                raise EventsNotFound(f"no delivery {delivery_id!r}")
            delivery, hook, event = found
            if not may_manage(principal, hook.company_id):
                raise EventsDenied(_denial(principal, hook.company_id))
            delivery.status = DeliveryStatus.PENDING.value
            delivery.attempts = 0
            delivery.next_attempt_at = utcnow()
            delivery.updated_at = utcnow()
            session.flush()
            return _with_attempts(session, [(delivery, hook, event)])[0]

    def _find(self, session: Session, principal: Principal, webhook: int | str) -> Webhook:
        if isinstance(webhook, int) and not isinstance(webhook, bool):
            row = session.get(Webhook, webhook)
        elif isinstance(webhook, str) and webhook.isdigit():
            row = session.get(Webhook, int(webhook))
        elif isinstance(webhook, str):
            row = session.scalars(sa.select(Webhook).where(Webhook.name == webhook)).first()
        else:
            row = None
        if row is None or not may_see(principal, row.company_id):
            raise EventsNotFound(f"no webhook {webhook!r}")
        return row


def _denial(principal: Principal, company_id: str | None) -> str:
    if company_id is None:
        return (
            f"{principal.name!r} may not manage platform webhooks (they receive every "
            "company's events); pass company_id for a company webhook"
        )
    return f"{principal.name!r} may not manage webhooks of company {company_id!r}"


def _with_attempts(
    session: Session, found: Sequence[tuple[WebhookDelivery, Webhook, Event]]
) -> list[DeliveryInfo]:
    ids = [d.id for d, _, _ in found]
    attempts: dict[int, list[AttemptInfo]] = {i: [] for i in ids}
    if ids:
        rows = session.scalars(
            sa.select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_(ids))
            .order_by(DeliveryAttempt.number)
        )
        for a in rows:
            attempts[a.delivery_id].append(
                AttemptInfo(
                    number=a.number,
                    started_at=a.started_at,
                    duration_ms=round(a.duration_ms, 3),
                    status_code=a.status_code,
                    error=a.error,
                )
            )
    return [
        DeliveryInfo(
            id=d.id,
            webhook_id=w.id,
            webhook=w.name,
            event_id=e.uid,
            event_type=e.type,
            company_id=e.company_id,
            status=d.status,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at,
            last_error=d.last_error,
            created_at=d.created_at,
            history=attempts[d.id],
        )
        for d, w, e in found
    ]
