"""The contract of a language model, and the retry/cost machinery the SDK adapters share.

A *model adapter* maps neutral :class:`~masterai.llm.types.ModelRequest` values to one API's
wire format (OpenAI chat completions, Anthropic messages). A *provider* owns the
authenticated SDK client and its base URL. One adapter serves every provider that speaks its
format: the OpenAI adapter talks to OpenAI, Ollama, vLLM and llama.cpp servers alike.
"""

from __future__ import annotations

import abc
import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Generic, Protocol, TypeVar, runtime_checkable

from masterai.llm.errors import LLMProviderError
from masterai.llm.pricing import cost_usd, find_price
from masterai.llm.types import ModelRequest, ModelResponse, ResponseComplete, StreamEvent
from masterai.settings import ModelPrice

T = TypeVar("T")


@runtime_checkable
class Model(Protocol):
    """What the agent needs from a language model."""

    @property
    def name(self) -> str:
        """``provider:model`` of this model, e.g. ``openai:gpt-4o-mini``."""
        ...

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Run one call and return the whole response."""
        ...

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """Run one call, yielding text as it arrives and a final ``ResponseComplete``."""
        ...

    async def aclose(self) -> None:
        """Release the HTTP client."""
        ...


class Provider(Protocol):
    """An authenticated client for one endpoint (key, base URL, timeouts)."""

    name: str
    """Provider name as used in model specs: ``openai``, ``ollama``, ``anthropic``, ..."""

    async def aclose(self) -> None:
        """Close the underlying HTTP client."""
        ...


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Exponential backoff with jitter for retryable provider errors (429, 5xx, timeouts)."""

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int, error: LLMProviderError) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        if error.retry_after is not None:
            # The provider knows best, but never let it park a turn for minutes.
            return min(max(error.retry_after, 0.0), 30.0)
        backoff = min(self.max_delay, self.base_delay * 2.0**attempt)
        return backoff * (0.5 + random.random() / 2)  # jitter, not crypto


Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class ModelOptions:
    """How an SDK adapter calls its model: which one, its prices, retries, output bound."""

    model_name: str
    prices: Mapping[str, ModelPrice]
    retry: RetryPolicy
    max_output_tokens: int = 2048
    sleep: Sleep | None = None
    """Backoff sleep (tests pass a fake clock); default ``asyncio.sleep``."""


class ProviderClient(Protocol):
    """What an adapter needs of its provider: a name for prices and a way to close."""

    name: str

    async def aclose(self) -> None:
        """Close the authenticated client."""


P = TypeVar("P", bound=ProviderClient)


class SDKModel(abc.ABC, Generic[P]):
    """Base of the SDK adapters: retries, cost from the price table, streaming retries.

    Subclasses implement one attempt (`_complete_once`, `_stream_once`) and translate their
    SDK's exceptions into :mod:`masterai.llm.errors` there. The provider (client, key, base
    URL) stays apart from the wire format the subclass speaks.
    """

    def __init__(self, *, provider: P, options: ModelOptions) -> None:
        self.provider = provider
        self.provider_name = provider.name
        self.model_name = options.model_name
        self.retry = options.retry
        self.max_output_tokens = options.max_output_tokens
        self._price = find_price(provider.name, options.model_name, options.prices)
        self._sleep = options.sleep or asyncio.sleep

    @property
    def name(self) -> str:
        """``provider:model``."""
        return f"{self.provider_name}:{self.model_name}"

    @abc.abstractmethod
    async def _complete_once(self, request: ModelRequest) -> ModelResponse:
        """One non-streaming attempt."""

    @abc.abstractmethod
    def _stream_once(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """One streaming attempt."""

    async def aclose(self) -> None:
        """Close the provider's client."""
        await self.provider.aclose()

    def _priced(self, response: ModelResponse) -> ModelResponse:
        return replace(response, cost_usd=cost_usd(response.usage, self._price), model=self.name)

    async def _retrying(self, attempt_call: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            try:
                return await attempt_call()
            except LLMProviderError as error:
                if not error.retryable or attempt >= self.retry.max_retries:
                    raise
                await self._sleep(self.retry.delay(attempt, error))
                attempt += 1

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Run one call (with retries) and price it."""
        response = await self._retrying(lambda: self._complete_once(request))
        return self._priced(response)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """Stream one call; retries only while nothing has been yielded yet."""
        attempt = 0
        while True:
            started = False
            try:
                async for event in self._stream_once(request):
                    started = True
                    if isinstance(event, ResponseComplete):
                        event = ResponseComplete(response=self._priced(event.response))
                    yield event
                return
            except LLMProviderError as error:
                if started or not error.retryable or attempt >= self.retry.max_retries:
                    raise
                await self._sleep(self.retry.delay(attempt, error))
                attempt += 1
