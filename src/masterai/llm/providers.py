"""Providers: an authenticated SDK client bound to one endpoint (key, base URL, timeout).

Providers hold credentials; adapters (:mod:`~masterai.llm.openai_chat`,
:mod:`~masterai.llm.anthropic_messages`) hold the wire format. Every provider's HTTP client
comes from the egress guard (:class:`~masterai.security.egress.EgressPolicy`), and the SDK is
never left to read a credential, base URL or extra header from the environment itself:
:func:`~masterai.llm.selection.build_model` decides which key, if any, this endpoint gets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from masterai.security.egress import EgressPolicy

if TYPE_CHECKING:
    import anthropic
    import openai

NO_KEY = "no-key"
"""Stands in for a key where the endpoint gets none (the SDKs insist on one, or would read
the environment's); the egress guard strips it with every other credential header."""


def _no_environment_headers(variable: str, omit: object) -> Mapping[str, str]:
    """Cancel the extra headers an SDK adds from ``variable`` (``Name: value`` lines).

    They are the operator's (a gateway token, say), so an endpoint without credentials must
    not receive them.
    """
    names = {
        line.split(":", 1)[0].strip()
        for line in os.environ.get(variable, "").split("\n")
        if ":" in line
    }
    return cast("Mapping[str, str]", dict.fromkeys(names - {""}, omit))


class OpenAICompatibleProvider:
    """Any endpoint speaking the OpenAI chat-completions API.

    OpenAI itself, Ollama, vLLM, llama.cpp server or Azure's OpenAI-compatible ``/openai/v1``
    endpoint, chosen by ``base_url``.

    Args:
        name: provider name of the spec (``openai``, ``ollama``, ...).
        api_key: the key this endpoint is configured with; ``None``: no credentials at all.
        base_url: the endpoint.
        timeout: seconds per request.
        egress: the policy of the HTTP client.
    """

    def __init__(
        self,
        *,
        name: str,
        api_key: str | None,
        base_url: str,
        timeout: float,
        egress: EgressPolicy,
    ) -> None:
        self.name = name
        self.base_url = base_url
        import openai

        extra: Mapping[str, str] = {}
        if api_key is None:
            extra = _no_environment_headers("OPENAI_CUSTOM_HEADERS", openai.Omit())
        # Retries are ours (RetryPolicy), so the SDK must not retry underneath.
        self.client: openai.AsyncOpenAI = openai.AsyncOpenAI(
            api_key=api_key or NO_KEY,
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
            default_headers=extra,
            http_client=egress.httpx_client(),
        )
        if api_key is None:
            # Read from OPENAI_ORG_ID / OPENAI_PROJECT_ID: the operator's, not this endpoint's.
            self.client.organization = self.client.project = None

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.close()


class AnthropicProvider:
    """Anthropic's messages API (or a compatible endpoint given by ``base_url``).

    Args:
        api_key: the key this endpoint is configured with; ``None``: no credentials at all.
        base_url: the endpoint.
        timeout: seconds per request.
        egress: the policy of the HTTP client (``httpx2``, the SDK's HTTP library).
    """

    def __init__(
        self, *, api_key: str | None, base_url: str, timeout: float, egress: EgressPolicy
    ) -> None:
        self.name = "anthropic"
        self.base_url = base_url
        import anthropic

        extra: Mapping[str, str] = {}
        if api_key is None:
            extra = _no_environment_headers("ANTHROPIC_CUSTOM_HEADERS", anthropic.Omit())
        # An explicit api_key also stops the SDK looking for tokens, profiles or federation.
        self.client: anthropic.AsyncAnthropic = anthropic.AsyncAnthropic(
            api_key=api_key or NO_KEY,
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
            default_headers=extra,
            http_client=egress.httpx2_client(),
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.close()
