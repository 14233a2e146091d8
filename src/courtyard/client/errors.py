"""Errors the SDK raises: problems the server reported, and servers it could not reach."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import httpx

MAX_DETAIL_CHARS = 300


class ClientError(Exception):
    """Base of every error the SDK raises on purpose."""


class Unreachable(ClientError):
    """The server could not be reached, or the connection broke before it answered."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach {url}: {reason}")
        self.url = url
        self.reason = reason


class ApiError(ClientError):
    """The server answered with an error; branch on ``code``, which is stable."""

    def __init__(
        self, status: int, code: str, title: str, detail: str | None = None, **extra: Any
    ) -> None:
        super().__init__(f"{code}: {detail or title}")
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.extra = extra

    @property
    def message(self) -> str:
        """The detail if the server gave one, else the title."""
        return self.detail or self.title

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        """Parse an ``application/problem+json`` body, or make the best of any other body."""
        status = response.status_code
        body = _json_or_none(response)
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            title = str(body.get("title") or _phrase(status))
            detail = body.get("detail")
            extra = {k: v for k, v in body.items() if k not in _PROBLEM_FIELDS}
            retry_after = _retry_after(response)
            if retry_after is not None:
                extra["retry_after"] = retry_after
            kind = ConsentRequired if body["code"] == CONSENT_REQUIRED_CODE else error_class(status)
            return kind(status, body["code"], title, str(detail) if detail else None, **extra)
        text = response.text.strip()[:MAX_DETAIL_CHARS] if _is_text(response) else ""
        return error_class(status)(status, f"http_{status}", _phrase(status), text or None)


class AuthError(ApiError):
    """401: the credentials or the access token are wrong, unknown or revoked."""


class RateLimited(ApiError):
    """429: slow down; ``retry_after`` is how many seconds the server asked for, if any."""

    @property
    def retry_after(self) -> float | None:
        value = self.extra.get("retry_after")
        return float(value) if isinstance(value, int | float) else None


class ConsentRequired(ApiError):
    """403 ``consent_required``: consent to your region's current privacy policy (or grant
    ``purpose``) first; ``client.privacy.consent_state()`` says what is missing."""

    @property
    def policy_region(self) -> str | None:
        value = self.extra.get("policy_region")
        return value if isinstance(value, str) else None

    @property
    def current_version(self) -> int | None:
        value = self.extra.get("current_version")
        return value if isinstance(value, int) else None

    @property
    def current_version_hash(self) -> str | None:
        value = self.extra.get("current_version_hash")
        return value if isinstance(value, str) else None

    @property
    def purpose(self) -> str | None:
        """The purpose to grant, when a purpose (not the version) is what is missing."""
        value = self.extra.get("purpose")
        return value if isinstance(value, str) else None


CONSENT_REQUIRED_CODE = "consent_required"


def consent_required_error(detail: str | None = None) -> ConsentRequired:
    """The error for a sync socket the server closed because consent is needed (4403)."""
    title = "Consent to the current privacy policy is required"
    return ConsentRequired(403, CONSENT_REQUIRED_CODE, title, detail)


_PROBLEM_FIELDS = {"type", "title", "status", "code", "detail"}
INVALID_TOKEN_CODE = "invalid_token"  # noqa: S105 (a problem code, not a secret)


def error_class(status: int) -> type[ApiError]:
    """The most specific ``ApiError`` subclass for an HTTP status."""
    if status == HTTPStatus.UNAUTHORIZED:
        return AuthError
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        return RateLimited
    return ApiError


def revoked_token_error(detail: str | None = None) -> AuthError:
    """The error for a sync socket the server closed because the token is no longer valid."""
    title = "The access token is missing, unknown or revoked"
    return AuthError(401, INVALID_TOKEN_CODE, title, detail)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _is_text(response: httpx.Response) -> bool:
    content_type = str(response.headers.get("content-type", ""))
    return content_type.startswith(("text/", "application/json", "application/problem+json"))


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "HTTP error"


class ProtocolError(ClientError):
    """The server sent something this client does not understand."""
