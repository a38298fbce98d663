"""Cost of a call from the price table in settings (USD per million tokens)."""

from __future__ import annotations

from collections.abc import Mapping

from masterai.llm.types import Usage
from masterai.settings import ModelPrice

# Providers that run on the user's own hardware: no per-token price unless the table says so.
LOCAL_PROVIDERS = frozenset({"ollama", "vllm", "llamacpp", "scripted"})


def find_price(provider: str, model: str, prices: Mapping[str, ModelPrice]) -> ModelPrice | None:
    """The price of ``provider:model``: exact key first, then the bare model name.

    Dated model names (``gpt-4o-mini-2024-07-18``) fall back to the longest table key they
    start with, so a snapshot costs what its family costs.
    """
    for key in (f"{provider}:{model}", model):
        if key in prices:
            return prices[key]
    candidates = [k for k in prices if ":" not in k and model.startswith(k + "-")]
    if candidates:
        return prices[max(candidates, key=len)]
    if provider in LOCAL_PROVIDERS:
        return ModelPrice(input_per_mtok=0, output_per_mtok=0)
    return None


def cost_usd(usage: Usage, price: ModelPrice | None) -> float | None:
    """USD for ``usage`` at ``price``; ``None`` when the price is unknown."""
    if price is None:
        return None
    return (
        usage.input_tokens * price.input_per_mtok + usage.output_tokens * price.output_per_mtok
    ) / 1_000_000
