"""The built-in roles and their default :class:`ToolPermissions`.

| role | tools | companies | code execution | sensitive data | model calls |
|---|---|---|---|---|---|
| ``super_admin`` | every category, writes | all | any language, 300 s, 4g | yes | yes |
| ``admin`` | all but ``admin``, writes | listed | python/js/ts/sql/r, 30 s, 512m | no | yes |
| ``analyst`` | ``analytics``, ``configuration``, ``clock``: read-only | listed | no | no | no |
| ``viewer`` | every category but ``code``, ``admin``: read-only | listed | no | no | no |

Model calls (operations that call a language model, such as ``analytics.benchmark_models``)
cost money, so they are a permission of their own (``model_calls.enabled``), granted to
analysts or viewers only explicitly. Integration domains: a super admin's are ``*``; everyone
else starts with none.

The ``admin`` category (users, grants, tokens, companies) is the super admin's alone by
default; a grant ``tools.admin=write`` opens it to someone else explicitly.

"Listed" companies come from ``user_companies`` (access ``read`` or ``write``).
"""

from __future__ import annotations

from masterai.security.permissions import (
    ANY,
    CodeExecutionPermissions,
    DataAccessPermissions,
    IntegrationPermissions,
    ModelCallPermissions,
    ToolPermissions,
)

SUPER_ADMIN = "super_admin"
ADMIN = "admin"
ANALYST = "analyst"
VIEWER = "viewer"
BUILT_IN_ROLES = (SUPER_ADMIN, ADMIN, ANALYST, VIEWER)
ADMINISTRATION = "admin"
"""The tool category of user, grant, token and company management."""

_ALL = frozenset({ANY})
_LANGUAGES = frozenset({"python", "javascript", "typescript", "sql", "r"})


def role_defaults(role: str) -> ToolPermissions:
    """The default permissions of a built-in role; a custom role starts with nothing.

    Args:
        role: role name.
    """
    if role == SUPER_ADMIN:
        return ToolPermissions(
            code_execution=CodeExecutionPermissions(
                enabled=True,
                languages=_ALL,
                max_execution_time=300.0,
                max_memory="4g",
                allowed_packages=_ALL,
            ),
            data_access=DataAccessPermissions(
                read_companies=_ALL, write_companies=_ALL, sensitive_data=True
            ),
            integrations=IntegrationPermissions(
                allowed_domains=_ALL,
                allowed_apis=_ALL,
                email_domains=_ALL,
                allowed_connections=_ALL,
            ),
            model_calls=ModelCallPermissions(enabled=True),
            tools={ANY: "write"},
        )
    if role == ADMIN:
        return ToolPermissions(
            code_execution=CodeExecutionPermissions(
                enabled=True, languages=_LANGUAGES, allowed_packages=_ALL
            ),
            model_calls=ModelCallPermissions(enabled=True),
            tools={ANY: "write", ADMINISTRATION: "none"},
        )
    if role == ANALYST:
        return ToolPermissions(
            tools={"analytics": "read", "configuration": "read", "clock": "read"}
        )
    if role == VIEWER:
        return ToolPermissions(tools={ANY: "read", "code": "none", ADMINISTRATION: "none"})
    return ToolPermissions()
