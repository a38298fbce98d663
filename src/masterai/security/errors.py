"""Errors of the security layer.

```
SecurityError
├── AuthenticationError     unknown user, bad or revoked token, inactive principal
├── PermissionSpecError     a permission override has an unknown key or a bad value
└── DirectoryError          user/company management input rejected (duplicate, unknown, ...)
```

A *denied* tool call is not an exception: the policy returns a :class:`~masterai.security.
policy.Decision` with the reason.
"""

from __future__ import annotations


class SecurityError(Exception):
    """Root of the security layer's errors."""


class AuthenticationError(SecurityError):
    """The caller could not be identified as an active principal."""


class PermissionSpecError(SecurityError):
    """A ``ToolPermissions`` override names an unknown field or has a malformed value."""


class DirectoryError(SecurityError):
    """A user or company management request was rejected."""
