"""Errors of the LLM layer: provider failures translated once, at the SDK boundary.

```
LLMError                        root of everything this package raises
├── LLMConfigurationError       no model configured, bad model spec, missing API key
├── LLMEgressError              the egress guard refused the endpoint or cut its answer
└── LLMProviderError            the provider refused or failed a call
    ├── LLMAuthenticationError  401/403: key rejected
    ├── LLMModelNotFoundError   404: unknown model
    ├── LLMQuotaError           the account is out of quota or credit (not retried)
    ├── LLMRateLimitError       429: retried with backoff
    ├── LLMServerError          5xx / overloaded: retried with backoff
    ├── LLMTimeoutError         no answer within the timeout: retried
    ├── LLMConnectionError      endpoint unreachable: retried
    └── LLMBadRequestError      400/422: the request itself was rejected
```
Every message says what failed and how to fix it.
"""

from __future__ import annotations


class LLMError(Exception):
    """Root of the LLM layer's errors."""


class LLMConfigurationError(LLMError):
    """The model cannot be used as configured (no model, bad spec, missing key)."""


class LLMEgressError(LLMError):
    """The egress guard refused the endpoint (address, port, host) or cut an oversized answer.

    Not retried: the same request would be refused again.
    """


class LLMProviderError(LLMError):
    """A provider call failed.

    Attributes:
        status_code: HTTP status of the provider's answer, if there was one.
        retryable: whether backing off and calling again may succeed.
        retry_after: seconds the provider asked us to wait, if it said.
    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after


class LLMAuthenticationError(LLMProviderError):
    """The provider rejected the API key."""


class LLMModelNotFoundError(LLMProviderError):
    """The provider does not know the model name."""


class LLMQuotaError(LLMProviderError):
    """The account has no quota or credit left; retrying will not help."""


class LLMRateLimitError(LLMProviderError):
    """Too many requests (429)."""

    retryable = True


class LLMServerError(LLMProviderError):
    """The provider failed (5xx) or is overloaded."""

    retryable = True


class LLMTimeoutError(LLMProviderError):
    """No answer within the configured timeout."""

    retryable = True


class LLMConnectionError(LLMProviderError):
    """The endpoint could not be reached."""

    retryable = True


class LLMBadRequestError(LLMProviderError):
    """The provider rejected the request as malformed."""
