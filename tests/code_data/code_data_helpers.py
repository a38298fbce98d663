"""Helpers of the data and package tests: principals and result bodies."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from masterai.registry import ExecutionContext
from masterai.security import Principal, role_defaults
from masterai.security.permissions import CodeExecutionPermissions, DataAccessPermissions


def user(
    name: str,
    packages: set[str] | None = None,
    companies: set[str] | None = None,
    languages: frozenset[str] = frozenset({"python", "javascript"}),
) -> ExecutionContext:
    """A developer allowed to run code with ``packages`` and read/write ``companies``."""
    permissions = dataclasses.replace(
        role_defaults("admin"),
        code_execution=CodeExecutionPermissions(
            enabled=True,
            languages=languages,
            allowed_packages=frozenset(packages if packages is not None else {"*"}),
        ),
        data_access=DataAccessPermissions(
            read_companies=frozenset(companies or set()),
            write_companies=frozenset(companies or set()),
        ),
    )
    return ExecutionContext(principal=Principal(name=name, role="admin", permissions=permissions))


def body(content: str) -> dict[str, Any]:
    value = json.loads(content)
    assert isinstance(value, dict)
    return value
