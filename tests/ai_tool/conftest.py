"""Fixtures for the ai_tool tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ai_tool_helpers import AuthRecorder, TypedAITool

from ai_tool import AIToolManager


@pytest.fixture
def allow() -> AuthRecorder:
    return AuthRecorder(answer=True)


@pytest.fixture
def deny() -> AuthRecorder:
    return AuthRecorder(answer=False)


@pytest.fixture
def manager() -> Iterator[AIToolManager]:
    """A clean ``AIToolManager`` singleton, reset again afterwards."""
    yield AIToolManager.reset_instance()
    AIToolManager.reset_instance()


@pytest.fixture
def typed() -> TypedAITool:
    return TypedAITool()
