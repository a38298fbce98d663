"""Errors of the service layer, one family for every domain service.

```
ServiceError                 any failure a caller should show to the user
├── InvalidInputError        an argument or input file is malformed (names the value)
├── NotFoundError            a company, version or template does not exist
└── ConflictError            the state changed or already exists (template name, demo data)
```

Tools turn these into results the model sees; the CLI prints them as one ``error:`` line.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Root of the service errors: a clear, user-facing message."""


class InvalidInputError(ServiceError, ValueError):
    """An argument or input is malformed; the message names the value and what is allowed."""


class NotFoundError(ServiceError, LookupError):
    """A named object (company, configuration version, template) does not exist."""


class ConflictError(ServiceError):
    """The operation conflicts with the current state (it changed, or already exists)."""
