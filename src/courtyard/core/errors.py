"""The one error tree. Every expected failure is a ``CourtyardError`` with a stable ``code``.

The API maps each *kind* (the direct subclasses below) to an HTTP status once, in
``courtyard.api.problems``; domains subclass a kind and set ``code`` and ``title``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class CourtyardError(Exception):
    """Base of every expected failure; ``code`` is stable and documented for clients."""

    code: ClassVar[str] = "error"
    title: ClassVar[str] = "Something went wrong"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class ConfigError(CourtyardError):
    """The configuration is invalid; raised at start, never during a request."""

    code = "invalid_config"
    title = "Invalid configuration"


# --- kinds: each maps to one HTTP status -------------------------------------------------


class InvalidInput(CourtyardError):
    code = "invalid_input"
    title = "The request is not valid"


class NotAuthenticated(CourtyardError):
    code = "not_authenticated"
    title = "Authentication required"


class PermissionDenied(CourtyardError):
    code = "permission_denied"
    title = "Not allowed"


class NotFound(CourtyardError):
    code = "not_found"
    title = "Not found"


class Conflict(CourtyardError):
    code = "conflict"
    title = "Conflict with the current state"


class Unprocessable(CourtyardError):
    """Well-formed, but the request's content cannot be accepted (e.g. a required consent)."""

    code = "unprocessable"
    title = "The request cannot be processed"


class PayloadTooLarge(CourtyardError):
    code = "payload_too_large"
    title = "The request body is too large"


class TooManyRequests(CourtyardError):
    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int = 60, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after


class Unavailable(CourtyardError):
    code = "unavailable"
    title = "Temporarily unavailable"
