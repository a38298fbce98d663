"""Security: principals, ``ToolPermissions``, the policy decision, redaction, user directory.

Entry points: :func:`decide` (the one policy function), :class:`ParameterRole` (what a
declared parameter means to it), :class:`Principal`,
:func:`load_principal` / :func:`authenticate_token`, :class:`UserDirectory`, :func:`redact`.
See ``README.md`` beside this file.
"""

from masterai.security.directory import (
    CompanyInfo,
    IssuedToken,
    TokenInfo,
    UserDirectory,
    UserInfo,
)
from masterai.security.errors import (
    AuthenticationError,
    DirectoryError,
    PermissionSpecError,
    SecurityError,
)
from masterai.security.parameters import (
    COMPANY_ROLES,
    ParameterRole,
    RoleBinding,
    bindings_for,
    parameter_role,
    undeclared_roles,
)
from masterai.security.permissions import (
    ANY,
    CodeExecutionPermissions,
    DataAccessPermissions,
    IntegrationPermissions,
    ToolPermissions,
    apply_override,
    parse_size,
)
from masterai.security.policy import Decision, ToolAction, decide
from masterai.security.principals import (
    Principal,
    TokenAuthenticator,
    authenticate_token,
    hash_token,
    load_principal,
    new_token,
    permissions_for,
    system_principal,
    unauthenticated_principal,
)
from masterai.security.redaction import REDACTED, redact, scrub_text, storable
from masterai.security.roles import (
    ADMIN,
    ANALYST,
    BUILT_IN_ROLES,
    SUPER_ADMIN,
    VIEWER,
    role_defaults,
)

__all__ = [
    "ADMIN",
    "ANALYST",
    "ANY",
    "BUILT_IN_ROLES",
    "COMPANY_ROLES",
    "REDACTED",
    "SUPER_ADMIN",
    "VIEWER",
    "AuthenticationError",
    "CodeExecutionPermissions",
    "CompanyInfo",
    "DataAccessPermissions",
    "Decision",
    "DirectoryError",
    "IntegrationPermissions",
    "IssuedToken",
    "ParameterRole",
    "PermissionSpecError",
    "Principal",
    "RoleBinding",
    "SecurityError",
    "TokenAuthenticator",
    "TokenInfo",
    "ToolAction",
    "ToolPermissions",
    "UserDirectory",
    "UserInfo",
    "apply_override",
    "authenticate_token",
    "bindings_for",
    "decide",
    "hash_token",
    "load_principal",
    "new_token",
    "parameter_role",
    "parse_size",
    "permissions_for",
    "redact",
    "role_defaults",
    "scrub_text",
    "storable",
    "system_principal",
    "unauthenticated_principal",
    "undeclared_roles",
]
