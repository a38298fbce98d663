"""Per-tool configuration as shown to users."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class AIToolConfig:
    """How a registered tool is presented and whether it starts enabled."""

    name: str
    display_name: str
    description: str
    enabled_by_default: bool = True
