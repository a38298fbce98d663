"""Choosing the model from one setting: ``MASTERAI_MODEL=provider:model[@base_url]``.

| spec | adapter | endpoint |
|---|---|---|
| ``openai:gpt-4o-mini`` | OpenAI chat | api.openai.com, key ``OPENAI_API_KEY`` |
| ``openai:my-model@https://host/v1`` | OpenAI chat | any OpenAI-compatible URL (Azure, proxies) |
| ``ollama:llama3.1[@http://127.0.0.1:11434]`` | OpenAI chat | Ollama's ``/v1`` |
| ``vllm:NAME@http://host:8000`` / ``llamacpp:NAME@URL`` | OpenAI chat | that server's ``/v1`` |
| ``anthropic:claude-haiku-4-5`` | Anthropic messages | key ``ANTHROPIC_API_KEY`` |
| ``scripted:/path/script.json`` | :class:`ScriptedModel` | none (tests, demos) |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from masterai.llm.base import Model, ModelOptions, RetryPolicy, Sleep
from masterai.llm.errors import LLMConfigurationError
from masterai.llm.scripted import ScriptedModel
from masterai.settings import Settings

PROVIDERS = ("openai", "ollama", "vllm", "llamacpp", "anthropic", "scripted")

KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}

NO_MODEL_MESSAGE = (
    "no language model configured: set MASTERAI_MODEL, e.g. "
    "MASTERAI_MODEL=openai:gpt-4o-mini (with OPENAI_API_KEY), "
    "MASTERAI_MODEL=anthropic:claude-haiku-4-5 (with ANTHROPIC_API_KEY) or "
    "MASTERAI_MODEL=ollama:llama3.1@http://127.0.0.1:11434"
)


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """A parsed model selection."""

    provider: str
    model: str
    base_url: str | None = None


def parse_model_spec(spec: str) -> ModelSpec:
    """Parse ``provider:model[@base_url]``; raises :class:`LLMConfigurationError` with the fix."""
    provider, sep, rest = spec.strip().partition(":")
    if not sep or not provider or not rest:
        raise LLMConfigurationError(
            f"invalid model {spec!r}: expected provider:model[@base_url], "
            f"e.g. openai:gpt-4o-mini; providers: {', '.join(PROVIDERS)}"
        )
    provider = provider.lower()
    if provider not in PROVIDERS:
        raise LLMConfigurationError(
            f"unknown model provider {provider!r} in {spec!r}; providers: {', '.join(PROVIDERS)}"
        )
    if provider == "scripted":
        return ModelSpec(provider=provider, model=rest)
    model, _, base_url = rest.partition("@")
    if not model:
        raise LLMConfigurationError(f"invalid model {spec!r}: the model name is empty")
    if base_url and not base_url.startswith(("http://", "https://")):
        raise LLMConfigurationError(
            f"invalid base URL {base_url!r} in {spec!r}: it must start with http:// or https://"
        )
    if provider in ("vllm", "llamacpp") and not base_url:
        raise LLMConfigurationError(
            f"{provider} needs the server's URL: {provider}:{model}@http://HOST:PORT"
        )
    return ModelSpec(provider=provider, model=model, base_url=base_url or None)


def configured_model(settings: Settings) -> str | None:
    """The model spec in force: ``MASTERAI_LLM__MODEL``, else ``MASTERAI_MODEL``."""
    return settings.llm.model or settings.model


def _v1(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/v1") else url + "/v1"


def _api_key(spec: ModelSpec, settings: Settings, environ: Mapping[str, str]) -> str:
    if settings.llm.api_key is not None:
        return settings.llm.api_key.get_secret_value()
    variable = KEY_VARIABLES.get(spec.provider)
    if variable and environ.get(variable):
        return environ[variable]
    if spec.provider in ("openai", "anthropic") and spec.base_url is None:
        raise LLMConfigurationError(
            f"no API key for {spec.provider}:{spec.model}: set {variable} or MASTERAI_LLM__API_KEY"
        )
    # Local servers (Ollama, vLLM, llama.cpp) accept any key; the SDK insists on one.
    return "not-needed"


def build_model(
    settings: Settings,
    spec: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    sleep: Sleep | None = None,
) -> Model:
    """The model named by ``spec`` (default: the configured one), ready to call.

    Raises:
        LLMConfigurationError: no model configured, a malformed spec or a missing key.
    """
    text = spec or configured_model(settings)
    if not text:
        raise LLMConfigurationError(NO_MODEL_MESSAGE)
    parsed = parse_model_spec(text)
    if parsed.provider == "scripted":
        return ScriptedModel.from_file(Path(parsed.model))
    env = os.environ if environ is None else environ
    key = _api_key(parsed, settings, env)
    llm = settings.llm
    retry = RetryPolicy(max_retries=llm.max_retries, base_delay=llm.retry_base_delay)
    options = ModelOptions(
        model_name=parsed.model,
        prices=llm.prices,
        retry=retry,
        max_output_tokens=llm.max_output_tokens,
        sleep=sleep,
    )
    # The SDKs take seconds to import; only the chosen one is loaded.
    if parsed.provider == "anthropic":
        from masterai.llm.anthropic_messages import AnthropicModel
        from masterai.llm.providers import AnthropicProvider

        provider = AnthropicProvider(api_key=key, base_url=parsed.base_url, timeout=llm.timeout)
        return AnthropicModel(provider=provider, options=options)
    from masterai.llm.openai_chat import OpenAIChatModel
    from masterai.llm.providers import OpenAICompatibleProvider

    base_url = parsed.base_url
    if parsed.provider == "ollama":
        base_url = _v1(base_url or "http://127.0.0.1:11434")
    elif parsed.provider in ("vllm", "llamacpp") and base_url:
        base_url = _v1(base_url)
    openai_provider = OpenAICompatibleProvider(
        name=parsed.provider, api_key=key, base_url=base_url, timeout=llm.timeout
    )
    return OpenAIChatModel(provider=openai_provider, options=options)
