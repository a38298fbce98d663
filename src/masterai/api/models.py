"""The JSON shapes of the HTTP API (what ``/openapi.json`` documents and clients rely on)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    """What went wrong, in the registry's wording."""

    status: str = Field(description="invalid, denied, not_found, failed, timeout, ...")
    message: str
    path: str | None = Field(default=None, description="The offending parameter, if known")


class ErrorBody(BaseModel):
    """Every error answer: ``{"error": {...}}``."""

    error: ErrorDetail


class ToolCallResult(BaseModel):
    """The registry's result of one call."""

    ok: bool
    status: str
    tool: str
    operation: str | None = None
    content: str = ""
    data: Any = None
    error: ErrorDetail | None = None
    duration_ms: float = 0.0
    audit_id: int | None = None
    request_id: str | None = None


class OperationModel(BaseModel):
    """One operation the caller may call."""

    name: str
    description: str
    read_only: bool
    destructive: bool


class ToolModel(BaseModel):
    """A tool as the caller may use it, with the JSON Schema of its arguments."""

    name: str
    category: str
    description: str
    operations: list[OperationModel]
    arguments_schema: dict[str, Any] = Field(
        description="JSON Schema of the arguments (restricted to the caller's operations)"
    )


class ParameterModel(BaseModel):
    """One parameter of an operation."""

    name: str
    type: str
    required: bool
    description: str
    enum: list[Any] | None = None
    role: str | None = None


class OperationDetail(BaseModel):
    """An operation with its parameters and what a call of it needs."""

    name: str
    description: str
    read_only: bool
    destructive: bool
    parameters: list[ParameterModel]
    needs_approval: bool
    calls_model: bool
    names_company: bool
    effects: list[str]


class ToolDetail(BaseModel):
    """``GET /api/v1/tools/{name}``."""

    name: str
    category: str
    description: str
    operations: list[OperationDetail]


class Health(BaseModel):
    """``/healthz`` and ``/readyz``."""

    status: str
    detail: str | None = None
