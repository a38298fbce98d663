"""Providers: an authenticated SDK client bound to one endpoint (key, base URL, timeout).

Providers hold credentials; adapters (:mod:`~masterai.llm.openai_chat`,
:mod:`~masterai.llm.anthropic_messages`) hold the wire format.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import anthropic
    import openai


class OpenAICompatibleProvider:
    """Any endpoint speaking the OpenAI chat-completions API.

    OpenAI itself (no base URL), Ollama, vLLM, llama.cpp server or Azure's OpenAI-compatible
    ``/openai/v1`` endpoint, chosen by ``base_url``.
    """

    def __init__(self, *, name: str, api_key: str, base_url: str | None, timeout: float) -> None:
        self.name = name
        self.base_url = base_url or "https://api.openai.com/v1"
        import openai

        # Retries are ours (RetryPolicy), so the SDK must not retry underneath.
        self.client: openai.AsyncOpenAI = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.close()


class AnthropicProvider:
    """Anthropic's messages API (or a compatible endpoint given by ``base_url``)."""

    def __init__(self, *, api_key: str, base_url: str | None, timeout: float) -> None:
        self.name = "anthropic"
        self.base_url = base_url or "https://api.anthropic.com"
        import anthropic

        self.client: anthropic.AsyncAnthropic = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.close()
