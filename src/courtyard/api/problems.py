"""RFC 9457 problem responses: every error leaves the API as ``application/problem+json``."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from courtyard.core import errors

log = logging.getLogger(__name__)
PROBLEM_TYPE = "urn:courtyard:problem:"
PROBLEM_MEDIA_TYPE = "application/problem+json"
FASTAPI_BODY_PARSE_ERROR = "There was an error parsing the body"

# Each kind of error maps to one status, once, here.
STATUS_BY_KIND: list[tuple[type[errors.CourtyardError], int]] = [
    (errors.InvalidInput, 400),
    (errors.NotAuthenticated, 401),
    (errors.PermissionDenied, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.PayloadTooLarge, 413),
    (errors.Unprocessable, 422),
    (errors.TooManyRequests, 429),
    (errors.Unavailable, 503),
]
CODE_BY_HTTP_STATUS = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


class Problem(BaseModel):
    """An RFC 9457 problem; ``code`` is stable and is what clients should branch on."""

    type: str = Field(examples=["urn:courtyard:problem:invalid_credentials"])
    title: str
    status: int
    code: str
    detail: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Per-field problems, for invalid requests."
    )


def problem_response(
    status: int, code: str, title: str, detail: str | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + code,
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
    }
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra.pop("retry_after"))
    body.update({k: v for k, v in extra.items() if k not in body})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def status_for(exc: errors.CourtyardError) -> int:
    for kind, status in STATUS_BY_KIND:
        if isinstance(exc, kind):
            return status
    return 500


async def _courtyard_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.CourtyardError)
    # Extension members (RFC 9457 §3.2) the domain attached, e.g. a refused transfer's state.
    extra: dict[str, Any] = dict(exc.extra)
    if isinstance(exc, errors.TooManyRequests):
        extra["retry_after"] = exc.retry_after
    return problem_response(status_for(exc), exc.code, exc.title, exc.detail, **extra)


def _json_safe(error: dict[str, Any]) -> dict[str, Any]:
    return {
        "loc": [str(part) for part in error.get("loc", ())],
        "msg": str(error.get("msg", "")),
        "type": str(error.get("type", "")),
    }


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [_json_safe(e) for e in exc.errors()]
    if any(p["type"] == "json_invalid" for p in problems):
        return problem_response(
            400, "malformed_json", "The body is not valid JSON", errors=problems
        )
    return problem_response(
        422, "invalid_request", "The request does not match the schema", errors=problems
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = CODE_BY_HTTP_STATUS.get(status, "http_error")
    if status == 400 and exc.detail == FASTAPI_BODY_PARSE_ERROR:
        # FastAPI raises this for bodies that are not even text (e.g. invalid UTF-8).
        code = "malformed_json"
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    response = problem_response(status, code, title, str(exc.detail) if exc.detail else None)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    return problem_response(500, "internal_error", "Internal server error")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.CourtyardError, _courtyard_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


def problem_doc(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


COMMON_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: problem_doc("Invalid input or malformed JSON."),
    413: problem_doc("Body larger than the server accepts."),
    422: problem_doc("The request does not match the schema."),
}
AUTH_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: problem_doc("Missing, unknown or revoked access token."),
}
