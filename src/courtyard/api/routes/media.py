"""Upload, download and delete client-encrypted attachments (files, images, voice notes)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect

from courtyard.api.deps import CurrentIdentity, RuntimeDep
from courtyard.api.problems import AUTH_PROBLEMS, COMMON_PROBLEMS, problem_doc, problem_response
from courtyard.domains.media import (
    OCTET_STREAM,
    ContentLengthMismatch,
    MediaUploaded,
    UploadIncomplete,
)

UPLOAD_PATH = "/v1/media"
BINARY = {OCTET_STREAM: {"schema": {"type": "string", "format": "binary"}}}
UPLOAD_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": BINARY}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: problem_doc("No such media (or, for delete, not yours).")
}
DOWNLOADS: dict[int | str, dict[str, Any]] = {
    200: {"description": "The whole blob.", "content": BINARY},
    206: {"description": "The requested byte range of the blob.", "content": BINARY},
    416: problem_doc("The range starts beyond the end of the blob."),
    **NOT_FOUND,
}
SINGLE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")

router = APIRouter(prefix="/v1", tags=["media"], responses={**COMMON_PROBLEMS, **AUTH_PROBLEMS})


@router.post("/media", status_code=201, response_model=MediaUploaded, openapi_extra=UPLOAD_BODY)
async def upload_media(
    request: Request, identity: CurrentIdentity, runtime: RuntimeDep
) -> MediaUploaded:
    """Store an attachment that the device has already encrypted (AES-256-GCM).

    Send the ciphertext as the raw body with `Content-Type: application/octet-stream`
    (any other type is refused with `invalid_media_type`: the real type belongs inside the
    encrypted message). Bodies over the server's limit (25 MiB by default) are refused with
    413 `payload_too_large`, with or without `Content-Length`; empty ones with `empty_media`.
    Put the returned `media_id`, with the key and hash, in the encrypted message.
    """
    return await runtime.media.do_upload(
        identity,
        _body(request),
        content_type=request.headers.get("content-type"),
        declared_size=_declared_length(request),
    )


@router.get("/media/{media_id}", response_class=Response, responses=DOWNLOADS)
async def download_media(
    media_id: str,
    identity: CurrentIdentity,
    runtime: RuntimeDep,
    range_: Annotated[
        str | None,
        Header(alias="Range", description="One range, e.g. `bytes=0-1023`; others are ignored."),
    ] = None,
) -> Response:
    """Download an attachment's encrypted bytes.

    Any signed-in user who knows the `media_id` may fetch it: the bytes are ciphertext whose
    key travels only inside end-to-end encrypted messages, and ids cannot be guessed. The
    `ETag` is the hex SHA-256 of the bytes, and the response may be cached for good. One
    byte range may be asked for with `Range` (206 Partial Content).
    """
    meta = await runtime.media.access_media(identity, media_id)
    headers = {
        "ETag": f'"{meta.sha256}"',
        "Cache-Control": "private, max-age=31536000, immutable",
        "Accept-Ranges": "bytes",
        "Content-Disposition": "attachment",
        "X-Content-Type-Options": "nosniff",
    }
    try:
        wanted = _single_range(range_, meta.size)
    except _Unsatisfiable:
        response = problem_response(416, "range_not_satisfiable", "Range Not Satisfiable")
        response.headers["Content-Range"] = f"bytes */{meta.size}"
        return response
    start, end = wanted or (0, meta.size - 1)
    headers["Content-Length"] = str(end - start + 1)
    if wanted is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{meta.size}"
    return StreamingResponse(
        runtime.media.read(meta, start, end - start + 1),
        status_code=206 if wanted else 200,
        media_type=OCTET_STREAM,
        headers=headers,
    )


@router.delete("/media/{media_id}", status_code=204, responses=NOT_FOUND)
async def delete_media(media_id: str, identity: CurrentIdentity, runtime: RuntimeDep) -> Response:
    """Delete an attachment you uploaded; for anyone else it is `media_not_found`."""
    await runtime.media.do_delete(identity, media_id)
    return Response(status_code=204)


def _declared_length(request: Request) -> int | None:
    declared = request.headers.get("content-length")
    if declared is None:
        return None
    if not declared.isdigit():
        raise ContentLengthMismatch("Content-Length is not a number of bytes")
    return int(declared)


async def _body(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        raise UploadIncomplete() from None


class _Unsatisfiable(Exception):
    pass


def _single_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range of a single-range ``Range`` header, or None to send the whole
    blob (no header, several ranges or a malformed one: RFC 9110 lets a server ignore it).

    Raises:
        _Unsatisfiable: the range starts at or beyond the end (or asks for the last 0 bytes).
    """
    match = SINGLE_RANGE.fullmatch((header or "").strip())
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # a suffix: the last N bytes
        count = int(last)
        if count == 0:
            raise _Unsatisfiable()
        return max(size - count, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size:
        raise _Unsatisfiable()
    if end < start:
        return None
    return start, end
