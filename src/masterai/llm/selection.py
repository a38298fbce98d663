"""Choosing the model from one setting: ``MASTERAI_MODEL=provider:model[@base_url]``.

| spec | adapter | endpoint |
|---|---|---|
| ``openai:gpt-4o-mini`` | OpenAI chat | api.openai.com, key ``OPENAI_API_KEY`` |
| ``openai:my-model@https://host/v1`` | OpenAI chat | any OpenAI-compatible URL (Azure, proxies) |
| ``ollama:llama3.1[@http://127.0.0.1:11434]`` | OpenAI chat | Ollama's ``/v1`` |
| ``vllm:NAME@http://host:8000`` / ``llamacpp:NAME@URL`` | OpenAI chat | that server's ``/v1`` |
| ``anthropic:claude-haiku-4-5`` | Anthropic messages | key ``ANTHROPIC_API_KEY`` |
| ``scripted:NAME.json`` | :class:`ScriptedModel` | a file in ``llm.scripted_dir`` (tests, demos) |

Credentials follow the endpoint, not the spec: the operator's keys go only to the endpoints
configured for them (:func:`operator_endpoints`); a ``@base_url`` chosen in a call is reached
without them, through the egress guard's full checks.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from masterai.llm.base import Model, ModelOptions, RetryPolicy, Sleep
from masterai.llm.errors import LLMConfigurationError
from masterai.llm.scripted import ScriptedModel
from masterai.security.egress import EgressPolicy, EgressSettingsError, Origin
from masterai.security.permissions import host_allowed
from masterai.settings import Settings

PROVIDERS = ("openai", "ollama", "vllm", "llamacpp", "anthropic", "scripted")

KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
"""The environment variable of each hosted provider's key."""
HOSTED = {
    "openai": ("OPENAI_BASE_URL", "https://api.openai.com/v1"),
    "anthropic": ("ANTHROPIC_BASE_URL", "https://api.anthropic.com"),
}
"""Each hosted provider's base-URL variable and public endpoint."""
OLLAMA_URL = "http://127.0.0.1:11434"

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


def _base_url(spec: ModelSpec, environ: Mapping[str, str]) -> str:
    """The base URL the SDK is given for ``spec`` (never left for the SDK to guess)."""
    if spec.provider == "ollama":
        return _v1(spec.base_url or OLLAMA_URL)
    if spec.provider in ("vllm", "llamacpp"):
        return _v1(spec.base_url or "")
    if spec.base_url:
        return spec.base_url
    variable, default = HOSTED[spec.provider]
    return environ.get(variable) or default


def _place(url: str) -> str:
    """``url`` normalised for comparison: origin with explicit port, path without a final /."""
    try:
        parsed = httpx.URL(url)
        origin = Origin.from_parts(parsed.scheme, parsed.raw_host, parsed.port)
    except (httpx.InvalidURL, UnicodeDecodeError):
        return url
    return f"{origin}{parsed.raw_path.decode('ascii').rstrip('/')}"


def operator_endpoints(settings: Settings, environ: Mapping[str, str]) -> dict[str, str | None]:
    """The endpoints the operator configured, normalised, with the key configured for each.

    The hosted APIs at their configured address (``OPENAI_BASE_URL``, ``ANTHROPIC_BASE_URL``,
    else the public one) with ``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY``, and the configured
    model's endpoint (``MASTERAI_MODEL``, ``@base_url`` included) with
    ``MASTERAI_LLM__API_KEY`` or its provider's key variable.
    """
    endpoints: dict[str, str | None] = {}
    for provider, variable in KEY_VARIABLES.items():
        hosted = _base_url(ModelSpec(provider=provider, model="-"), environ)
        endpoints[_place(hosted)] = environ.get(variable) or None
    text = configured_model(settings)
    try:
        spec = parse_model_spec(text) if text else None
    except LLMConfigurationError:
        spec = None  # reported when the configured model itself is used
    if spec is not None and spec.provider != "scripted":
        key = settings.llm.api_key.get_secret_value() if settings.llm.api_key else None
        key = key or environ.get(KEY_VARIABLES.get(spec.provider, "")) or None
        endpoints[_place(_base_url(spec, environ))] = key
    return endpoints


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """Where a model spec is sent, and what the operator configured for that place."""

    base_url: str
    api_key: str | None = None
    """The operator's key: only when ``base_url`` is the endpoint configured for it."""
    trusted: bool = False
    """The operator chose ``base_url``: the egress guard reaches it as configured."""


def resolve_endpoint(
    spec: ModelSpec,
    settings: Settings,
    environ: Mapping[str, str],
    *,
    operator_chosen: bool = False,
) -> Endpoint:
    """The endpoint of ``spec``: trusted and keyed only where the operator configured it.

    Raises:
        LLMConfigurationError: a hosted API (no ``@base_url``) whose key is not set.
    """
    base_url = _base_url(spec, environ)
    operator = operator_endpoints(settings, environ)
    place = _place(base_url)
    if place not in operator:
        return Endpoint(base_url=base_url, trusted=operator_chosen)
    key = operator[place]
    if key is None and spec.provider in KEY_VARIABLES and spec.base_url is None:
        raise LLMConfigurationError(
            f"no API key for {spec.provider}:{spec.model}: set "
            f"{KEY_VARIABLES[spec.provider]} or MASTERAI_LLM__API_KEY"
        )
    return Endpoint(base_url=base_url, api_key=key, trusted=True)


def scripted_path(name: str, directory: Path | None) -> Path:
    """The script a ``scripted:NAME`` spec names, inside ``llm.scripted_dir`` only.

    Raises:
        LLMConfigurationError: scripted models are off, or ``name`` leaves the directory.
    """
    if directory is None:
        raise LLMConfigurationError(
            f"scripted models are not available (scripted:{name}): set "
            "MASTERAI_LLM__SCRIPTED_DIR to the directory holding model scripts"
        )
    if ".." in Path(name).parts:
        raise LLMConfigurationError(f"model script {name!r} must not contain '..'")
    root = directory.resolve()
    path = (root / name).resolve()
    if path == root or not path.is_relative_to(root):
        raise LLMConfigurationError(
            f"model script {name!r} is outside the scripts directory {str(root)!r} "
            "(MASTERAI_LLM__SCRIPTED_DIR)"
        )
    return path


def build_model(
    settings: Settings,
    spec: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    sleep: Sleep | None = None,
    allowed_hosts: Iterable[str] | None = None,
    operator_chosen: bool = False,
) -> Model:
    """The model named by ``spec`` (default: the configured one), ready to call.

    Every HTTP request goes through the egress guard (:mod:`masterai.security.egress`). An
    endpoint the operator configured (:func:`operator_endpoints`) is reached as configured,
    with its key; any other (a ``@base_url`` chosen in a call) gets no operator credential
    and the guard's full checks.

    Args:
        settings: the settings (model, keys, ``egress``, ``llm.scripted_dir``).
        spec: ``provider:model[@base_url]``; default ``MASTERAI_MODEL``.
        environ: where key and base-URL variables are read (default ``os.environ``).
        sleep: backoff sleep (tests).
        allowed_hosts: the calling principal's ``integrations.allowed_domains``: a
            ``@base_url`` the operator did not configure must match one (``None``: not
            limited by a principal; the address checks still apply).
        operator_chosen: ``spec`` comes from the operator (a command-line flag of the
            process owner), not from a call: its endpoint is reached as configured.
            Credentials still go only to the endpoints configured for them.

    Raises:
        LLMConfigurationError: no model configured, a malformed spec, a missing key, a
            script outside ``llm.scripted_dir``, a host not allowed, bad egress settings.
    """
    text = spec or configured_model(settings)
    if not text:
        raise LLMConfigurationError(NO_MODEL_MESSAGE)
    parsed = parse_model_spec(text)
    if parsed.provider == "scripted":
        return ScriptedModel.from_file(scripted_path(parsed.model, settings.llm.scripted_dir))
    env = os.environ if environ is None else environ
    endpoint = resolve_endpoint(
        parsed, settings, env, operator_chosen=operator_chosen or spec is None
    )
    egress = _egress(settings, endpoint, text, allowed_hosts)
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

        provider = AnthropicProvider(
            api_key=endpoint.api_key,
            base_url=endpoint.base_url,
            timeout=llm.timeout,
            egress=egress,
        )
        return AnthropicModel(provider=provider, options=options)
    from masterai.llm.openai_chat import OpenAIChatModel
    from masterai.llm.providers import OpenAICompatibleProvider

    openai_provider = OpenAICompatibleProvider(
        name=parsed.provider,
        api_key=endpoint.api_key,
        base_url=endpoint.base_url,
        timeout=llm.timeout,
        egress=egress,
    )
    return OpenAIChatModel(provider=openai_provider, options=options)


def _egress(
    settings: Settings, endpoint: Endpoint, spec: str, allowed_hosts: Iterable[str] | None
) -> EgressPolicy:
    """The egress policy of one model's HTTP client."""
    try:
        origin = Origin.of(endpoint.base_url)
        base = [endpoint.base_url]
        if endpoint.trusted:
            return EgressPolicy.from_settings(
                settings.egress, trusted=base, credentials_for=base if endpoint.api_key else []
            )
        hosts = None if allowed_hosts is None else frozenset(allowed_hosts)
        if hosts is not None and not host_allowed(hosts, origin.host):
            raise LLMConfigurationError(
                f"model endpoint {origin.host!r} of {spec!r} is not in the allowed domains "
                f"({', '.join(sorted(hosts)) or 'none'}); grant integrations.allowed_domains"
            )
        return EgressPolicy.from_settings(settings.egress, allowed_hosts=hosts, credentials_for=[])
    except EgressSettingsError as error:
        raise LLMConfigurationError(f"model {spec!r}: {error}") from error
