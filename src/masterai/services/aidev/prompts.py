"""Prompt engineering: optimise a prompt from examples, write variations, score against a rubric.

:func:`examples_to_cases` turns the seed's ``examples`` (inputs with the behaviour wanted) into
test cases for :func:`masterai.llm.evaluation.optimize_prompt`, the one optimiser behind both
``aidev.optimize_prompt`` and ``configuration.optimize_prompt``.

:class:`PromptEvaluator` scores a prompt against a rubric: deterministic checks (``contains``,
``regex``, ``json_schema``, ``max_length``, ``language``) and a model judge (1-5 with a
reason, temperature 0). Answers and verdicts are cached by (prompt, case, model).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from masterai.llm.base import Model
from masterai.llm.evaluation import AssertionSpec, TestCase
from masterai.llm.types import Message, ModelRequest
from masterai.services.errors import InvalidInputError

MAX_VARIATIONS = 10
MAX_EXAMPLES = 100
DEFAULT_STRATEGIES = (
    "shorter",
    "more formal",
    "stricter about escalation",
    "friendlier",
    "more structured",
)


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where or 'value'}: {first['msg']} (got {first.get('input')!r:.120})"


# --- examples -> test cases ----------------------------------------------------------------


class Example(BaseModel):
    """One example of the seed's ``optimize_prompt``: an input and the behaviour wanted."""

    model_config = ConfigDict(extra="forbid")

    input: str = Field(min_length=1)
    expected: str | None = None
    """The behaviour or answer wanted (judged by a model)."""
    assertions: list[AssertionSpec] = Field(default_factory=list)


def examples_to_cases(raw: Any) -> list[TestCase]:
    """Test cases from ``examples`` (strings, or ``{input, expected?, assertions?}``).

    ``expected`` becomes a rubric assertion ("the answer shows this behaviour").

    Raises:
        InvalidInputError: naming the first bad example.
    """
    if not isinstance(raw, list) or not raw:
        raise InvalidInputError(f"examples must be a non-empty list, got {raw!r:.200}")
    if len(raw) > MAX_EXAMPLES:
        raise InvalidInputError(f"too many examples: {len(raw)} (the limit is {MAX_EXAMPLES})")
    cases = []
    for index, item in enumerate(raw):
        try:
            example = Example(input=item) if isinstance(item, str) else Example.model_validate(item)
        except ValidationError as error:
            raise InvalidInputError(f"examples[{index}]: {_first_error(error)}") from error
        assertions = list(example.assertions)
        if example.expected:
            wanted = f"The answer shows this behaviour: {example.expected}"
            assertions.append(AssertionSpec(type="rubric", value=wanted))
        cases.append(
            TestCase(input=example.input, name=f"example {index + 1}", assertions=assertions)
        )
    return cases


# --- variations ------------------------------------------------------------------------------

VARIATION_INSTRUCTIONS = (
    "You rewrite the system prompt of a customer-facing AI assistant. Apply exactly the "
    "strategy you are given and keep the prompt's purpose. Reply with the rewritten prompt only."
)


@dataclass(frozen=True, kw_only=True)
class Variation:
    """One rewritten prompt and the strategy it follows."""

    strategy: str
    prompt: str


def _normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _clean(text: str) -> str:
    text = text.strip()
    fenced = re.fullmatch(r"```[\w-]*\n(.*?)\n?```", text, re.DOTALL)
    return (fenced.group(1) if fenced else text).strip()


def check_variation_request(base_prompt: Any, count: Any, strategies: Any) -> list[str]:
    """The strategy of each variation to write (cycled to ``count``).

    Raises:
        InvalidInputError: an empty prompt, a count outside 1..MAX_VARIATIONS, bad strategies.
    """
    if not isinstance(base_prompt, str) or not base_prompt.strip():
        raise InvalidInputError(f"base_prompt must be non-empty text, got {base_prompt!r:.80}")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_VARIATIONS:
        raise InvalidInputError(f"count must be 1 to {MAX_VARIATIONS}, got {count!r}")
    chosen = list(DEFAULT_STRATEGIES) if strategies is None else strategies
    if (
        not isinstance(chosen, list)
        or not chosen
        or not all(isinstance(s, str) and s.strip() for s in chosen)
    ):
        raise InvalidInputError(f"strategies must be a list of non-empty texts, got {chosen!r}")
    return [chosen[i % len(chosen)].strip() for i in range(count)]


async def generate_variations(
    model: Model, base_prompt: str, strategies: Sequence[str]
) -> tuple[list[Variation], int, float | None]:
    """One variation per strategy, without duplicates (of each other or of the base prompt).

    Returns:
        The variations, how many duplicates were dropped, and what the calls cost
        (``None`` when a price is unknown).
    """
    seen = {_normalised(base_prompt)}
    variations: list[Variation] = []
    dropped, cost, known = 0, 0.0, True
    for strategy in strategies:
        brief = f"Strategy: {strategy}\n\nPrompt:\n{base_prompt}"
        response = await model.complete(
            ModelRequest(messages=(Message.system(VARIATION_INSTRUCTIONS), Message.user(brief)))
        )
        known = known and response.cost_usd is not None
        cost += response.cost_usd or 0.0
        prompt = _clean(response.text)
        key = _normalised(prompt)
        if not prompt or key in seen:
            dropped += 1
            continue
        seen.add(key)
        variations.append(Variation(strategy=strategy, prompt=prompt))
    return variations, dropped, round(cost, 6) if known else None


# --- rubric evaluation --------------------------------------------------------------------


class Criterion(BaseModel):
    """One rubric line: a deterministic check or a model judge, with a weight."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1)
    type: Literal[
        "contains", "not_contains", "regex", "json_schema", "max_length", "language", "judge"
    ]
    description: str = ""
    """What the judge grades (``judge``), or a note."""
    weight: float = Field(default=1.0, gt=0)
    value: str | None = None
    """Text (``contains``), pattern (``regex``) or language code (``language``, e.g. ``en``)."""
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    max_length: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _complete(self) -> Criterion:
        needs = {
            "contains": "value",
            "not_contains": "value",
            "regex": "value",
            "language": "value",
            "json_schema": "json_schema",
            "max_length": "max_length",
            "judge": "description",
        }[self.type]
        if not getattr(self, needs):
            raise ValueError(
                f"a {self.type} criterion needs {'schema' if needs == 'json_schema' else needs!r}"
            )
        if self.type == "regex":
            re.compile(self.value or "")
        if self.type == "json_schema":
            jsonschema.Draft202012Validator.check_schema(self.json_schema or {})
        if self.type == "language" and (self.value or "") not in LANGUAGE_WORDS:
            raise ValueError(
                f"unknown language {self.value!r}; known: {', '.join(sorted(LANGUAGE_WORDS))}"
            )
        return self


def parse_criteria(raw: Any) -> list[Criterion]:
    """The rubric from JSON-like data.

    Raises:
        InvalidInputError: naming the first bad criterion, field and value.
    """
    if not isinstance(raw, list) or not raw:
        raise InvalidInputError(f"criteria must be a non-empty list, got {raw!r:.200}")
    criteria = []
    for index, item in enumerate(raw):
        try:
            criteria.append(Criterion.model_validate(item))
        except ValidationError as error:
            raise InvalidInputError(f"criteria[{index}]: {_first_error(error)}") from error
        except (jsonschema.SchemaError, re.error) as error:
            raise InvalidInputError(f"criteria[{index}]: {str(error).splitlines()[0]}") from error
    names = [c.name for c in criteria]
    if len(set(names)) != len(names):
        raise InvalidInputError(f"criteria names must be distinct, got {names!r}")
    return criteria


# Frequent short words per language: enough to tell support answers apart offline.
_COMMON_WORDS = {
    "en": "the and you your is are to of for with this that please we can not",
    "de": "der die das und ist sie nicht mit ich wir ihre bitte für ein eine zu",
    "fr": "le la les et est vous nous pour une des pas avec votre merci dans",
    "es": "el la los las y es usted para una por con no su gracias que del",
    "it": "il lo la gli e è per una con non sono grazie che del della suo",
    "nl": "de het een en is niet u uw wij met voor dank van zijn bent",
    "pt": "o a os as e é para uma com não você seu obrigado que do da",
}
LANGUAGE_WORDS = {code: frozenset(words.split()) for code, words in _COMMON_WORDS.items()}


def detect_language(text: str) -> str | None:
    """The language whose common words ``text`` uses most (``None``: no known word)."""
    words = re.findall(r"[^\W\d_]+", text.casefold())
    scores = {code: sum(w in vocab for w in words) for code, vocab in LANGUAGE_WORDS.items()}
    best = max(scores, key=lambda code: scores[code])
    return best if scores[best] else None


def deterministic_check(criterion: Criterion, output: str) -> tuple[float, str]:
    """Score 1.0 or 0.0 for a deterministic criterion, with the reason."""
    value = criterion.value or ""
    if criterion.type == "contains":
        ok = value.casefold() in output.casefold()
        return float(ok), f"{'contains' if ok else 'does not contain'} {value!r}"
    if criterion.type == "not_contains":
        ok = value.casefold() not in output.casefold()
        return float(ok), f"{'does not contain' if ok else 'contains'} {value!r}"
    if criterion.type == "regex":
        ok = re.search(value, output, re.IGNORECASE) is not None
        return float(ok), f"{'matches' if ok else 'does not match'} /{value}/"
    if criterion.type == "max_length":
        limit = criterion.max_length or 0
        return float(len(output) <= limit), f"{len(output)} characters (limit {limit})"
    if criterion.type == "language":
        found = detect_language(output)
        return float(found == value), f"language {found or 'unknown'} (wanted {value})"
    try:
        jsonschema.validate(json.loads(output), criterion.json_schema or {})
    except json.JSONDecodeError as error:
        return 0.0, f"invalid JSON ({error.msg})"
    except jsonschema.ValidationError as error:
        return 0.0, f"does not match the schema: {error.message}"
    return 1.0, "valid against the schema"


JUDGE_INSTRUCTIONS = (
    "You grade a text against one criterion on a scale of 1 (fails completely) to 5 (fully "
    'meets it). Reply with JSON only: {"score": 1-5, "reason": "one sentence"}.'
)


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """A judge's score (1-5, ``None`` when it gave none) and its reason."""

    score: int | None
    reason: str
    cost_usd: float | None = 0.0


async def judge(model: Model, criterion: Criterion, subject: str, context: str) -> Verdict:
    """Ask ``model`` (temperature 0) to score ``subject`` against ``criterion``."""
    brief = f"Criterion: {criterion.name}: {criterion.description}\n\n{context}Text:\n{subject}"
    response = await model.complete(
        ModelRequest(
            messages=(Message.system(JUDGE_INSTRUCTIONS), Message.user(brief)), temperature=0.0
        )
    )
    match = re.search(r"\{.*\}", response.text, re.DOTALL)
    try:
        data = json.loads(match.group(0)) if match else None
    except json.JSONDecodeError:
        data = None
    score = data.get("score") if isinstance(data, dict) else None
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        reason = f"the judge gave no 1-5 score ({response.text[:120]!r})"
        return Verdict(score=None, reason=reason, cost_usd=response.cost_usd)
    reason = str(data.get("reason", "")) if isinstance(data, dict) else ""
    return Verdict(score=score, reason=reason, cost_usd=response.cost_usd)


def sample_cases(cases: Sequence[str], size: Any, seed: Any) -> list[str]:
    """``size`` of ``cases`` drawn with ``seed`` (the same draw every time), in their order.

    ``size`` ``None`` or at least ``len(cases)``: every case.

    Raises:
        InvalidInputError: ``size`` below 1, or either not an integer.
    """
    if size is None:
        return list(cases)
    for name, value in (("sample_size", size), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInputError(f"{name} must be an integer, not {value!r}")
    if size < 1:
        raise InvalidInputError(f"sample_size must be at least 1, not {size}")
    if size >= len(cases):
        return list(cases)
    picked = sorted(random.Random(seed).sample(range(len(cases)), size))
    return [cases[i] for i in picked]


def cache_key(*parts: str) -> str:
    """A stable key for (prompt, case, model, ...)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(kw_only=True)
class PromptEvaluator:
    """Scores prompts against rubrics, caching answers and verdicts by (prompt, case, model).

    The cache lives as long as the evaluator (one per ``aidev`` tool instance).
    """

    answers: dict[str, str] = field(default_factory=dict)
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    cost_usd: float = 0.0
    cache_hits: int = 0

    async def answer(self, model: Model, prompt: str, case: str) -> str:
        """The model's answer to ``case`` under system prompt ``prompt`` (temperature 0)."""
        key = cache_key("answer", prompt, case, model.name)
        if key in self.answers:
            self.cache_hits += 1
            return self.answers[key]
        response = await model.complete(
            ModelRequest(messages=(Message.system(prompt), Message.user(case)), temperature=0.0)
        )
        self.cost_usd += response.cost_usd or 0.0
        self.answers[key] = response.text
        return response.text

    async def verdict(
        self, model: Model, criterion: Criterion, prompt: str, case: str, subject: str
    ) -> Verdict:
        """The judge's verdict on ``subject`` (cached)."""
        key = cache_key("judge", prompt, case, model.name, criterion.model_dump_json(), subject)
        if key in self.verdicts:
            self.cache_hits += 1
            return self.verdicts[key]
        context = f"User input:\n{case}\n\n" if case else ""
        result = await judge(model, criterion, subject, context)
        self.cost_usd += result.cost_usd or 0.0
        self.verdicts[key] = result
        return result

    async def evaluate(
        self,
        prompt: str,
        criteria: Sequence[Criterion],
        cases: Sequence[str],
        *,
        model: Model | None,
        judge_model: Model | None,
    ) -> dict[str, Any]:
        """Per-criterion and weighted scores (0..1) with reasons.

        Without ``cases`` the criteria apply to the prompt text itself; with them, to the
        model's answer to each case under ``prompt``.

        Raises:
            InvalidInputError: cases without a model, or a judge criterion without a judge.
        """
        if cases and model is None:
            raise InvalidInputError("test_cases need a model to answer them: give 'model'")
        if judge_model is None and any(c.type == "judge" for c in criteria):
            raise InvalidInputError(
                "a judge criterion needs a model: give 'model' or 'judge_model'"
            )
        subjects = (
            [(case, await self.answer(model, prompt, case)) for case in cases]
            if cases and model is not None
            else [("", prompt)]
        )
        rows: list[dict[str, Any]] = []
        weighted: list[tuple[float, float]] = []
        for criterion in criteria:
            results: list[dict[str, Any]] = []
            scored: list[float] = []
            for case, subject in subjects:
                if criterion.type == "judge" and judge_model is not None:
                    found = await self.verdict(judge_model, criterion, prompt, case, subject)
                    score = None if found.score is None else (found.score - 1) / 4
                    if score is not None:
                        scored.append(score)
                    results.append(
                        {
                            "case": case or None,
                            "score": score,
                            "judge_score": found.score,
                            "reason": found.reason,
                        }
                    )
                else:
                    value, reason = deterministic_check(criterion, subject)
                    scored.append(value)
                    results.append({"case": case or None, "score": value, "reason": reason})
            mean = round(sum(scored) / len(scored), 4) if scored else None
            if mean is not None:
                weighted.append((criterion.weight, mean))
            rows.append(
                {
                    "name": criterion.name,
                    "type": criterion.type,
                    "weight": criterion.weight,
                    "score": mean,
                    "results": results,
                }
            )
        total = sum(w for w, _ in weighted)
        return {
            "weighted_score": round(sum(w * s for w, s in weighted) / total, 4) if total else None,
            "criteria": rows,
            "answers": [{"case": c, "output": s} for c, s in subjects] if cases else [],
        }
