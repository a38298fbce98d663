"""The dispatcher: fan events out to matching webhooks and deliver them, with retries.

:meth:`Dispatcher.dispatch_once` does one round (``masterai serve`` and ``masterai worker``
call :meth:`Dispatcher.run`, which repeats it until stopped):

1. **fan out** each event not yet fanned out: one ``pending`` delivery per enabled
   subscription whose pattern matches the type and whose company is the event's (a platform
   subscription matches every company), and a mark in ``event_fanouts`` — in one transaction,
   so two dispatchers never fan out one event twice;
2. **deliver** every due delivery: claim it (a conditional update, so two dispatchers never
   send one attempt twice), re-check its creator's permissions (the creator must still be
   allowed to set up this webhook: integration tools, the URL's domain, the company), POST the
   signed JSON body through the egress guard, and record the attempt. A 2xx answer delivers;
   anything else is retried after ``webhook_retry_base * 2**(n-1)`` seconds (capped, with
   jitter) until ``webhook_max_attempts``, then the delivery is dead-lettered. A refusal by
   the egress guard or the permission check dead-letters at once (retrying cannot help);
   :meth:`WebhookRepository.redeliver` queues it again.
"""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from masterai.events.signing import DELIVERY_HEADER, EVENT_HEADER, signature_headers
from masterai.events.types import DeliveryStatus, matches
from masterai.events.webhooks import reads_every_company
from masterai.security.egress import EgressError, Resolver, egress_client
from masterai.security.errors import AuthenticationError
from masterai.security.parameters import ParameterRole, RoleBinding
from masterai.security.policy import ToolAction, decide
from masterai.security.principals import Principal, load_principal
from masterai.settings import EgressSettings, IntegrationsSettings
from masterai.store import Database
from masterai.store.models import Webhook, utcnow
from masterai.store.models.events import DeliveryAttempt, Event, EventFanout, WebhookDelivery

USER_AGENT = "MasterAI-Webhooks/1"
CLAIM_SECONDS = 300.0
"""How long a claimed delivery is left alone by other dispatchers while it is being sent."""
MAX_RESPONSE_KEPT = 2000
"""Characters of a receiver's answer kept in the delivery log."""
CONCURRENCY = 8
_SETUP_ROLES = (
    RoleBinding(path=("url",), role=ParameterRole.URL),
    RoleBinding(path=("company_id",), role=ParameterRole.COMPANY),
    RoleBinding(path=("event_company",), role=ParameterRole.READ_COMPANY),
)


@dataclass(frozen=True, kw_only=True)
class DispatchReport:
    """What one round did."""

    fanned_out: int = 0
    """Events fanned out."""
    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0

    @property
    def idle(self) -> bool:
        """Nothing was due."""
        return self.fanned_out == 0 and self.attempted == 0


@dataclass(frozen=True, kw_only=True)
class _Due:
    delivery_id: int
    attempts: int
    number: int
    url: str
    secret: str | None
    creator: str | None
    webhook_company: str | None
    event_uid: str
    event_company: str | None
    body: bytes
    event_type: str


@dataclass(frozen=True, kw_only=True)
class _Outcome:
    status_code: int | None = None
    error: str | None = None
    response: str | None = None
    permanent: bool = False
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


def event_body(event: Event) -> bytes:
    """The JSON body a receiver gets for ``event``: id, type, time, company, data."""
    payload = {
        "id": event.uid,
        "type": event.type,
        "time": event.created_at.isoformat(),
        "company": event.company_id,
        "data": event.data,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


class Dispatcher:
    """Delivers the outbox to webhooks (see the module docstring).

    Args:
        database: where the outbox and subscriptions live.
        integrations: retry and interval settings.
        egress: the egress guard's settings (tests allow loopback here).
        resolver: host name resolution for the egress guard (tests).
        verify: TLS context for receivers (tests with their own CA).
        clock: the current time (tests).
    """

    def __init__(
        self,
        database: Database,
        integrations: IntegrationsSettings,
        egress: EgressSettings,
        *,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._database = database
        self._settings = integrations
        self._egress = egress
        self._resolver = resolver
        self._verify = verify
        self._clock = clock

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until ``stop`` is set, resting ``dispatch_interval`` when idle."""
        while not stop.is_set():
            report = await self.dispatch_once()
            if report.idle:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._settings.dispatch_interval)

    async def dispatch_once(self, *, limit: int = 100) -> DispatchReport:
        """Fan out new events, then attempt every due delivery (at most ``limit`` of each)."""
        fanned = await asyncio.to_thread(self._fan_out, limit)
        due = await asyncio.to_thread(self._claim_due, limit)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(item: _Due) -> DeliveryStatus:
            async with gate:
                return await self._deliver(item)

        statuses = await asyncio.gather(*(one(d) for d in due))
        return DispatchReport(
            fanned_out=fanned,
            attempted=len(due),
            delivered=statuses.count(DeliveryStatus.DELIVERED),
            retrying=statuses.count(DeliveryStatus.PENDING),
            dead=statuses.count(DeliveryStatus.DEAD),
        )

    # --- fan-out ------------------------------------------------------------------------

    def _fan_out(self, limit: int) -> int:
        with self._database.session() as session:
            events = list(
                session.scalars(
                    sa.select(Event)
                    .outerjoin(EventFanout, EventFanout.event_id == Event.id)
                    .where(EventFanout.event_id.is_(None))
                    .order_by(Event.id)
                    .limit(limit)
                )
            )
            hooks = list(session.scalars(sa.select(Webhook).where(Webhook.enabled)))
        done = 0
        for event in events:
            targets = [h for h in hooks if _subscribed(h, event)]
            try:
                with self._database.session() as session:
                    session.add(EventFanout(event_id=event.id, deliveries=len(targets)))
                    now = self._clock()
                    for hook in targets:
                        session.add(
                            WebhookDelivery(
                                event_id=event.id,
                                webhook_id=hook.id,
                                status=DeliveryStatus.PENDING.value,
                                attempts=0,
                                next_attempt_at=now,
                            )
                        )
                done += 1
            except IntegrityError:
                continue  # another dispatcher fanned it out first
        return done

    # --- delivery -----------------------------------------------------------------------

    def _claim_due(self, limit: int) -> list[_Due]:
        now = self._clock()
        with self._database.session() as session:
            rows = session.execute(
                sa.select(WebhookDelivery, Webhook, Event)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .join(Event, Event.id == WebhookDelivery.event_id)
                .where(
                    WebhookDelivery.status == DeliveryStatus.PENDING.value,
                    WebhookDelivery.next_attempt_at <= now,
                )
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(limit)
            ).all()
            numbers: dict[int, int] = {
                int(k): int(v)
                for k, v in session.execute(
                    sa.select(DeliveryAttempt.delivery_id, sa.func.count())
                    .where(DeliveryAttempt.delivery_id.in_([d.id for d, _, _ in rows]))
                    .group_by(DeliveryAttempt.delivery_id)
                ).all()
            }
        claimed = []
        for delivery, hook, event in rows:
            if self._claim(delivery.id, delivery.next_attempt_at, now):
                claimed.append(
                    _Due(
                        delivery_id=delivery.id,
                        attempts=delivery.attempts,
                        number=int(numbers.get(delivery.id, 0)) + 1,
                        url=hook.url,
                        secret=hook.secret,
                        creator=hook.created_by,
                        webhook_company=hook.company_id,
                        event_uid=event.uid,
                        event_company=event.company_id,
                        body=event_body(event),
                        event_type=event.type,
                    )
                )
        return claimed

    def _claim(self, delivery_id: int, seen: datetime | None, now: datetime) -> bool:
        """Take a due delivery for this dispatcher (``False``: another one took it)."""
        with self._database.session() as session:
            result = session.execute(
                sa.update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.status == DeliveryStatus.PENDING.value,
                    WebhookDelivery.next_attempt_at == seen,
                )
                .values(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    async def _deliver(self, due: _Due) -> DeliveryStatus:
        started = self._clock()
        begin = time.perf_counter()
        creator, refusal = await asyncio.to_thread(self._creator, due)
        if creator is None:
            outcome = _Outcome(error=refusal, permanent=True)
        else:
            outcome = await self._post(due, creator)
        outcome = _Outcome(
            status_code=outcome.status_code,
            error=outcome.error,
            response=outcome.response,
            permanent=outcome.permanent,
            duration_ms=(time.perf_counter() - begin) * 1000,
        )
        return await asyncio.to_thread(self._record, due, outcome, started)

    def _creator(self, due: _Due) -> tuple[Principal | None, str]:
        """The subscription's creator if still allowed to set it up; else why not."""
        if not due.creator:
            return None, "the webhook has no creator whose permissions could be checked"
        try:
            principal = load_principal(self._database, due.creator)
        except AuthenticationError:
            return None, f"its creator {due.creator!r} is no longer an active user"
        action = ToolAction(
            tool="integration",
            category="integration",
            operation="setup_webhook",
            read_only=False,
            arguments={
                "url": due.url,
                "company_id": due.webhook_company,
                "event_company": due.event_company,
            },
            roles=_SETUP_ROLES,
        )
        if due.webhook_company is None and not reads_every_company(principal):
            return None, f"its creator {due.creator!r} may no longer read every company"
        decision = decide(principal, action)
        if not decision.allowed:
            return None, f"its creator may no longer set it up: {decision.reason}"
        return principal, ""

    async def _post(self, due: _Due, creator: Principal) -> _Outcome:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_HEADER: due.event_type,
            DELIVERY_HEADER: f"dlv_{due.delivery_id}",
        }
        if due.secret:
            headers.update(signature_headers(due.secret, due.body))
        try:
            async with egress_client(
                self._egress,
                allowed_hosts=creator.permissions.integrations.allowed_domains,
                resolver=self._resolver,
                verify=self._verify,
            ) as client:
                response = await client.post(due.url, content=due.body, headers=headers)
        except EgressError as e:
            return _Outcome(error=f"refused by the egress guard: {e}", permanent=True)
        except httpx.HTTPError as e:
            return _Outcome(error=f"{type(e).__name__}: {e}"[:500] or type(e).__name__)
        text = response.text[:MAX_RESPONSE_KEPT]
        error = None if response.is_success else f"HTTP {response.status_code}"
        return _Outcome(status_code=response.status_code, error=error, response=text)

    def _record(self, due: _Due, outcome: _Outcome, started: datetime) -> DeliveryStatus:
        attempts = due.attempts + 1
        now = self._clock()
        if outcome.ok:
            status, next_at = DeliveryStatus.DELIVERED, None
        elif outcome.permanent or attempts >= self._settings.webhook_max_attempts:
            status, next_at = DeliveryStatus.DEAD, None
        else:
            delay = timedelta(seconds=self.backoff(attempts))
            status, next_at = DeliveryStatus.PENDING, now + delay
        with self._database.session() as session:
            session.add(
                DeliveryAttempt(
                    delivery_id=due.delivery_id,
                    number=due.number,
                    started_at=started,
                    duration_ms=outcome.duration_ms,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    response=outcome.response,
                )
            )
            session.execute(
                sa.update(WebhookDelivery)
                .where(WebhookDelivery.id == due.delivery_id)
                .values(
                    status=status.value,
                    attempts=attempts,
                    next_attempt_at=next_at,
                    last_error=outcome.error,
                    updated_at=now,
                )
            )
        return status

    def backoff(self, attempts: int) -> float:
        """Seconds before the next attempt after ``attempts`` failures (exponential, jittered).

        The delay is ``base * 2**(attempts-1)``, capped, then scaled by a random factor in
        [0.5, 1] so that receivers coming back are not hit by every retry at once.
        """
        base = self._settings.webhook_retry_base * 2 ** max(0, attempts - 1)
        return float(min(self._settings.webhook_retry_cap, base) * random.uniform(0.5, 1.0))


def _subscribed(hook: Webhook, event: Event) -> bool:
    if hook.company_id is not None and hook.company_id != event.company_id:
        return False
    return any(matches(p, event.type) for p in hook.events)


def pending_count(database: Database) -> dict[str, Any]:
    """Deliveries per status (for health pages and ``webhooks deliveries`` summaries)."""
    with database.session() as session:
        rows = session.execute(
            sa.select(WebhookDelivery.status, sa.func.count()).group_by(WebhookDelivery.status)
        ).all()
    return {status: int(count) for status, count in rows}
