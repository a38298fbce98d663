"""``seed_demo``: a deterministic, realistic synthetic data set for trying every operation.

Five company profiles differ in volume, model, prompt, seasonality and failure mode (slow
answers, provider errors, fallbacks, escalations, fast growth); more companies cycle through the
profiles. Conversations span ``days`` days ending on ``end_date`` (default: today, UTC) with
weekly seasonality, a trend and daily peaks. The same ``seed`` and ``end_date`` always give the
same data. Each company also gets three configuration versions, and two templates are added.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa

from masterai.services.errors import ConflictError, InvalidInputError
from masterai.settings import AnalyticsSettings, ModelPrice
from masterai.store import Database
from masterai.store.models import AIConfiguration, Company, ConfigTemplate, Conversation, Message

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` with conversations written so far."""

_TOPICS: dict[str, tuple[list[str], str]] = {
    "shipping": (
        [
            "Where is my order?",
            "My package has not arrived yet",
            "Can I change the delivery address?",
            "The tracking number does not work",
            "How long does shipping take?",
        ],
        "Your order is on its way; the tracking link is in your confirmation e-mail.",
    ),
    "refund": (
        [
            "I want a refund for my order",
            "How do I get my money back?",
            "The refund has not arrived",
            "Can I return this item for a refund?",
        ],
        "I have started the refund; it reaches your account within 5 business days.",
    ),
    "billing": (
        [
            "Why was I charged twice?",
            "Can I get an invoice for last month?",
            "Which payment methods do you accept?",
            "My subscription price changed",
        ],
        "I checked your billing history and sent the invoice to your e-mail.",
    ),
    "account": (
        [
            "I can't log in to my account",
            "How do I reset my password?",
            "My account is locked",
            "How do I change my username?",
        ],
        "I sent a password reset link; it is valid for one hour.",
    ),
    "technical": (
        [
            "The app shows an error when I pay",
            "The website is not working on my phone",
            "Export fails with a timeout",
            "The integration stopped syncing",
        ],
        "Thanks for the details; clearing the cache and retrying usually fixes this.",
    ),
    "cancellation": (
        [
            "I want to cancel my subscription",
            "How do I cancel my booking?",
            "Please close my account",
        ],
        "I can cancel that for you; you keep access until the end of the period.",
    ),
    "product": (
        [
            "Is this product in stock?",
            "Does it come in a larger size?",
            "What is the warranty on this product?",
            "Which features are in the premium plan?",
        ],
        "Yes, it is available; the details are on the product page.",
    ),
}
_FOLLOW_UPS = [
    "Thanks!",
    "It still does not work",
    "Can you check again?",
    "OK, and how long will it take?",
    "I need to speak to a human",
    "That is not what I asked",
]
_FALLBACK = "I'm sorry, I don't have information about that. Could you rephrase?"
_ERRORS = ["rate limit exceeded (429)", "upstream timeout after 30s", "invalid tool response"]


@dataclass(frozen=True, kw_only=True)
class Profile:
    """How one demo company behaves."""

    slug: str
    name: str
    provider: str
    model: str
    weight: float
    """Share of the conversations."""
    growth: float
    """Daily growth of volume (0.01 = +1% per day)."""
    weekend: float
    """Volume on Saturday and Sunday relative to weekdays."""
    peak_hours: tuple[int, ...]
    topics: dict[str, float]
    latency_ms: float
    """Median answer latency; log-normal with sigma 0.45."""
    escalation: float
    fallback: float
    error: float
    prompt: str


PROFILES = (
    Profile(
        slug="acme-retail",
        name="Acme Retail",
        provider="openai",
        model="gpt-4o-mini",
        weight=0.34,
        growth=0.004,
        weekend=1.4,
        peak_hours=(11, 12, 19, 20),
        topics={"shipping": 4, "refund": 2, "product": 3, "billing": 1},
        latency_ms=1100,
        escalation=0.05,
        fallback=0.04,
        error=0.005,
        prompt="You are Acme Retail's friendly shopping assistant.",
    ),
    Profile(
        slug="globex-bank",
        name="Globex Bank",
        provider="anthropic",
        model="claude-sonnet-4-5",
        weight=0.22,
        growth=0.001,
        weekend=0.45,
        peak_hours=(9, 10, 14, 15),
        topics={"account": 4, "billing": 3, "technical": 1},
        latency_ms=3600,
        escalation=0.16,
        fallback=0.03,
        error=0.01,
        prompt="You are Globex Bank's careful assistant. Never give financial advice.",
    ),
    Profile(
        slug="initech-saas",
        name="Initech",
        provider="openai",
        model="gpt-4o",
        weight=0.2,
        growth=0.002,
        weekend=0.3,
        peak_hours=(10, 11, 15, 16),
        topics={"technical": 5, "account": 2, "billing": 1, "cancellation": 1},
        latency_ms=1800,
        escalation=0.08,
        fallback=0.05,
        error=0.07,
        prompt="You are Initech's technical support assistant.",
    ),
    Profile(
        slug="umbrella-health",
        name="Umbrella Health",
        provider="anthropic",
        model="claude-haiku-4-5",
        weight=0.14,
        growth=0.0,
        weekend=0.8,
        peak_hours=(8, 9, 18),
        topics={"account": 2, "billing": 2, "cancellation": 2, "product": 1},
        latency_ms=1400,
        escalation=0.1,
        fallback=0.17,
        error=0.01,
        prompt="You are Umbrella Health's member services assistant.",
    ),
    # A self-hosted model missing from the price table: cost analysis reports it as unpriced.
    Profile(
        slug="stark-travel",
        name="Stark Travel",
        provider="ollama",
        model="llama-3.1-70b",
        weight=0.1,
        growth=0.02,
        weekend=1.2,
        peak_hours=(12, 13, 21),
        topics={"cancellation": 3, "refund": 3, "shipping": 1, "product": 2},
        latency_ms=1300,
        escalation=0.09,
        fallback=0.06,
        error=0.01,
        prompt="You are Stark Travel's booking assistant.",
    ),
)


@dataclass(frozen=True, kw_only=True)
class DemoSummary:
    """What ``seed_demo`` wrote."""

    companies: list[str]
    conversations: int
    messages: int
    start_date: date
    end_date: date

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            **self.__dict__,
            "start_date": self.start_date.isoformat(),
            "end_date": self.end_date.isoformat(),
        }


def demo_company_ids(companies: int = len(PROFILES)) -> list[str]:
    """The ids of the first ``companies`` demo companies."""
    return [_profile(i)[0] for i in range(companies)]


def _profile(index: int) -> tuple[str, Profile]:
    base = PROFILES[index % len(PROFILES)]
    round_ = index // len(PROFILES)
    slug = base.slug if round_ == 0 else f"{base.slug}-{round_ + 1}"
    return slug, base


def _check_int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return int(value)


def has_demo_data(database: Database) -> bool:
    """Whether any demo company exists already."""
    with database.session() as session:
        found = session.scalar(
            sa.select(sa.func.count())
            .select_from(Company)
            .where(Company.id.in_(demo_company_ids(len(PROFILES))))
        )
    return bool(found)


def seed_demo(
    database: Database,
    *,
    companies: int = len(PROFILES),
    conversations: int = 4000,
    days: int = 90,
    seed: int = 7,
    end_date: date | None = None,
    replace: bool = False,
    prices: dict[str, ModelPrice] | None = None,
    progress: Progress | None = None,
    turn_probability: float = 0.45,
    max_turns: int = 6,
) -> DemoSummary:
    """Write the demo data set into ``database`` in one transaction.

    Turns per conversation follow a geometric distribution (``turn_probability``) capped at
    ``max_turns``; the defaults give about 2.2 turns (4.4 messages) per conversation.

    Raises:
        ConflictError: demo companies exist already and ``replace`` is false.
        InvalidInputError: a size argument is out of range.
    """
    _check_sizes(companies, conversations, days, seed, turn_probability, max_turns)
    end = end_date or datetime.now(UTC).date()
    start = end - timedelta(days=days - 1)
    price_table = prices if prices is not None else AnalyticsSettings().prices
    rng = np.random.default_rng(seed)
    slugs = demo_company_ids(companies)
    weights = np.array([_profile(i)[1].weight for i in range(companies)])
    sizes = np.maximum(1, np.floor(conversations * weights / weights.sum()).astype(int))
    sizes[0] += conversations - int(sizes.sum())
    total_messages = 0
    with database.session(immediate=True) as session:
        _clear_existing(session, slugs, replace=replace)
        _write_companies(session, slugs, start)
        done = 0
        for index, slug in enumerate(slugs):
            profile = _profile(index)[1]
            convs, msgs = _generate(
                rng,
                slug,
                profile,
                int(sizes[index]),
                start,
                days,
                price_table,
                turns=(turn_probability, max_turns),
            )
            for chunk in range(0, len(convs), 5000):
                session.execute(sa.insert(Conversation), convs[chunk : chunk + 5000])
            for chunk in range(0, len(msgs), 20000):
                session.execute(sa.insert(Message), msgs[chunk : chunk + 20000])
            total_messages += len(msgs)
            done += len(convs)
            if progress is not None:
                progress(done, conversations)
    return DemoSummary(
        companies=slugs,
        conversations=conversations,
        messages=total_messages,
        start_date=start,
        end_date=end,
    )


def _check_sizes(
    companies: Any, conversations: Any, days: Any, seed: Any, probability: Any, max_turns: Any
) -> None:
    _check_int(companies, "companies", 1, 100)
    _check_int(conversations, "conversations", companies, 2_000_000)
    _check_int(days, "days", 7, 730)
    _check_int(seed, "seed", 0, 2**32 - 1)
    _check_int(max_turns, "max_turns", 1, 50)
    if not isinstance(probability, float) or not 0.01 <= probability <= 1:
        raise InvalidInputError(
            f"turn_probability must be a number from 0.01 to 1, got {probability!r}"
        )


def _clear_existing(session: Any, slugs: list[str], *, replace: bool) -> None:
    existing = list(session.scalars(sa.select(Company.id).where(Company.id.in_(slugs))))
    if existing and not replace:
        raise ConflictError(
            f"demo data exists already (companies {', '.join(existing)}); "
            "use replace (--replace) to write it again"
        )
    if existing:
        # Their conversations, messages and configurations go with them (ON DELETE CASCADE).
        session.execute(sa.delete(Company).where(Company.id.in_(existing)))


# (extra prompt text, temperature, max_tokens, change note, days after the company was created)
_HISTORY = (
    ("", 0.7, 800, "initial configuration", 0),
    (" Answer in at most three sentences.", 0.7, 600, "shorter answers", 20),
    (
        " Answer in at most three sentences. Offer a human agent when the customer asks twice.",
        0.4,
        600,
        "offer escalation earlier; lower temperature",
        45,
    ),
)
# (name, description, system prompt, temperature)
_TEMPLATES = (
    (
        "friendly-support",
        "Warm, brief customer support",
        "You are a warm, concise support assistant. Offer a human agent when unsure.",
        0.6,
    ),
    (
        "strict-compliance",
        "Regulated industries: no advice, cite policy",
        "You are a careful assistant for a regulated business. Never give advice; cite policy.",
        0.2,
    ),
)


def _write_companies(session: Any, slugs: list[str], start: date) -> None:
    created = datetime.combine(start, datetime.min.time(), UTC) - timedelta(days=30)
    for index, slug in enumerate(slugs):
        profile = _profile(index)[1]
        suffix = "" if slug == profile.slug else f" {slug.rsplit('-', 1)[1]}"
        session.add(Company(id=slug, name=profile.name + suffix, created_at=created))
    session.flush()
    for index, slug in enumerate(slugs):
        profile = _profile(index)[1]
        for version, (extra, temperature, max_tokens, note, days) in enumerate(_HISTORY, 1):
            session.add(
                AIConfiguration(
                    company_id=slug,
                    version=version,
                    is_active=version == len(_HISTORY),
                    provider=profile.provider,
                    model=profile.model,
                    system_prompt=profile.prompt + extra,
                    temperature=temperature,
                    max_tokens=max_tokens,
                    settings={"language": "en"},
                    author="demo",
                    change_note=note,
                    created_at=created + timedelta(days=days),
                    source_version=version - 1 or None,
                )
            )
    names = set(session.scalars(sa.select(ConfigTemplate.name)))
    for name, description, prompt, temperature in _TEMPLATES:
        if name not in names:
            session.add(
                ConfigTemplate(
                    name=name,
                    description=description,
                    provider="openai",
                    model="gpt-4o-mini",
                    system_prompt=prompt,
                    temperature=temperature,
                    max_tokens=600,
                    settings={"language": "en"},
                    created_by="demo",
                )
            )
    session.flush()


@dataclass(frozen=True, kw_only=True)
class _Draws:
    """Random draws for every turn of one company, made up front (numpy is fast in bulk)."""

    latency: np.ndarray[Any, Any]
    fallback: np.ndarray[Any, Any]
    error: np.ndarray[Any, Any]
    error_kind: np.ndarray[Any, Any]
    prompt_tokens: np.ndarray[Any, Any]
    completion_tokens: np.ndarray[Any, Any]
    follow_up: np.ndarray[Any, Any]
    think_seconds: np.ndarray[Any, Any]


def _timeline(
    rng: np.random.Generator, profile: Profile, n: int, start: date, days: int
) -> list[datetime]:
    day = np.arange(days)
    weekday = np.array([(start + timedelta(days=int(d))).weekday() for d in day])
    level = (
        (1 + profile.growth) ** day
        * np.where(weekday >= 5, profile.weekend, 1.0)
        * (1 + 0.12 * np.sin(2 * np.pi * day / 30))
    )
    conv_day = np.repeat(day, rng.multinomial(n, level / level.sum()))
    peak = rng.random(n) < 0.55
    hours = np.where(peak, rng.choice(profile.peak_hours, n), rng.integers(7, 23, n))
    seconds = rng.integers(0, 3600, n)
    base = datetime.combine(start, datetime.min.time(), UTC)
    return [
        base + timedelta(days=int(d), hours=int(h), seconds=int(s))
        for d, h, s in zip(conv_day, hours, seconds, strict=True)
    ]


def _turn_draws(rng: np.random.Generator, profile: Profile, k: int) -> _Draws:
    return _Draws(
        latency=rng.lognormal(np.log(profile.latency_ms), 0.45, k).astype(int),
        fallback=rng.random(k) < profile.fallback,
        error=rng.random(k) < profile.error,
        error_kind=rng.integers(0, len(_ERRORS), k),
        prompt_tokens=250 + rng.integers(0, 80, k),
        completion_tokens=rng.integers(30, 220, k),
        follow_up=rng.integers(0, len(_FOLLOW_UPS), k),
        think_seconds=rng.integers(5, 90, k),
    )


def _generate(
    rng: np.random.Generator,
    slug: str,
    profile: Profile,
    n: int,
    start: date,
    days: int,
    prices: dict[str, ModelPrice],
    *,
    turns: tuple[float, int],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    started = _timeline(rng, profile, n, start, days)
    topics = list(profile.topics)
    weights = np.array(list(profile.topics.values()), dtype=float)
    topic_idx = rng.choice(len(topics), n, p=weights / weights.sum())
    turn_counts = np.minimum(rng.geometric(turns[0], n), turns[1])
    risky = np.isin(topic_idx, [i for i, t in enumerate(topics) if t in ("refund", "cancellation")])
    escalated = rng.random(n) < profile.escalation * np.where(risky, 2.0, 1.0)
    phrasing = rng.integers(0, 100, n)
    rated = rng.random(n) < 0.4
    mood = rng.normal(0, 0.7, n)
    resolve_draw = rng.random(n)
    channels = rng.choice(np.array(["web", "whatsapp", "email"]), n, p=[0.6, 0.3, 0.1])
    draws = _turn_draws(rng, profile, int(turn_counts.sum()))
    price = prices.get(profile.model)
    convs: list[dict[str, Any]] = []
    msgs: list[dict[str, Any]] = []
    cursor = 0
    for i in range(n):
        phrases, _ = _TOPICS[topics[int(topic_idx[i])]]
        outcome = _conversation_messages(
            msgs,
            f"{slug}-{i:06d}",
            started[i],
            int(turn_counts[i]),
            bool(escalated[i]),
            phrases[int(phrasing[i]) % len(phrases)],
            _TOPICS[topics[int(topic_idx[i])]][1],
            draws,
            cursor,
            profile.model,
            price,
        )
        cursor += int(turn_counts[i])
        had_fallback, had_error, slowest, ended = outcome
        # Ratings fall with escalations, fallbacks, slow answers and errors.
        score = 4.5 - 1.7 * escalated[i] - 0.9 * had_fallback - 0.8 * (slowest > 5000)
        score += mood[i] - 0.6 * had_error
        convs.append(
            {
                "id": f"{slug}-{i:06d}",
                "company_id": slug,
                "config_version": 3,
                "channel": str(channels[i]),
                "model": profile.model,
                "started_at": started[i],
                "ended_at": ended,
                "escalated": bool(escalated[i]),
                "resolved": bool(
                    not escalated[i]
                    and resolve_draw[i] < 0.9 - 0.35 * had_fallback - 0.2 * had_error
                ),
                "satisfaction": int(np.clip(round(score), 1, 5)) if rated[i] else None,
                "user_ref": f"user-{int(phrasing[i] * 97 + i) % 5000:04d}",
            }
        )
    return convs, msgs


def _conversation_messages(
    msgs: list[dict[str, Any]],
    cid: str,
    when: datetime,
    turns: int,
    escalated: bool,
    question: str,
    answer: str,
    d: _Draws,
    k: int,
    model: str,
    price: ModelPrice | None,
) -> tuple[bool, bool, int, datetime]:
    had_fallback = had_error = False
    slowest = 0
    for j in range(turns):
        if j == 0:
            text = question
        elif escalated and j == turns - 1:
            text = "I need to speak to a human"
        else:
            text = _FOLLOW_UPS[int(d.follow_up[k + j])]
        msgs.append(_message(cid, 2 * j, "user", text, when))
        latency = int(d.latency[k + j])
        slowest = max(slowest, latency)
        when = when + timedelta(milliseconds=latency)
        prompt = int(d.prompt_tokens[k + j]) + 60 * j
        error = _ERRORS[int(d.error_kind[k + j])] if d.error[k + j] else None
        fallback = bool(d.fallback[k + j]) and error is None
        completion = 0 if error else 25 if fallback else int(d.completion_tokens[k + j])
        cost = (
            (prompt * price.input_per_mtok + completion * price.output_per_mtok) / 1e6
            if price
            else 0.0
        )
        content = "(no answer)" if error else _FALLBACK if fallback else answer
        msgs.append(
            _message(
                cid,
                2 * j + 1,
                "assistant",
                content,
                when,
                latency_ms=latency,
                prompt_tokens=prompt,
                completion_tokens=completion,
                cost_usd=round(cost, 8),
                model=model,
                is_fallback=fallback,
                error=error,
            )
        )
        had_fallback |= fallback
        had_error |= error is not None
        when = when + timedelta(seconds=int(d.think_seconds[k + j]))
    return had_fallback, had_error, slowest, when


def _message(
    cid: str, seq: int, role: str, content: str, when: datetime, **extra: Any
) -> dict[str, Any]:
    row = {
        "conversation_id": cid,
        "seq": seq,
        "role": role,
        "content": content,
        "created_at": when,
        "latency_ms": None,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost_usd": 0.0,
        "model": None,
        "is_fallback": False,
        "error": None,
    }
    row.update(extra)
    return row
