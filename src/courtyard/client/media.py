"""Attachments in the SDK: upload and download already-encrypted bytes (``Client`` mixes this in).

Encrypting (AES-256-GCM) and checking the plaintext hash are the caller's part; here the
server's answers are checked against what was sent or received: size and SHA-256.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from courtyard.client.errors import ApiError, ProtocolError, Unreachable

OCTET_STREAM = "application/octet-stream"


@dataclass(frozen=True)
class MediaInfo:
    """A stored blob: its id, its size and the hex SHA-256 of its (encrypted) bytes."""

    media_id: str
    size: int
    sha256: str

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> MediaInfo:
        return cls(
            media_id=str(data["media_id"]), size=int(data["size"]), sha256=str(data["sha256"])
        )


class MediaMixin:
    """Media methods of ``Client``; they use its HTTP client, base URL and token."""

    if TYPE_CHECKING:
        base_url: str
        _http: httpx.AsyncClient

        def _require_token(self) -> str: ...

    async def upload_media(self, data: bytes | AsyncIterable[bytes]) -> MediaInfo:
        """Upload encrypted bytes (all at once, or streamed from an async iterator).

        Raises ``ProtocolError`` if the server reports another size or hash than was sent.
        """
        digest, size = hashlib.sha256(), 0

        async def counted(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
            nonlocal size
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                yield chunk

        if isinstance(data, bytes):
            digest.update(data)
            size = len(data)
            content: bytes | AsyncIterator[bytes] = data
        else:
            content = counted(data)
        request = self._http.build_request(
            "POST", "/v1/media", content=content, headers=self._media_headers(OCTET_STREAM)
        )
        response = await self._send_media(request)
        try:
            info = MediaInfo.from_wire(response.json())
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"malformed upload answer: {exc!r}") from None
        if (info.size, info.sha256) != (size, digest.hexdigest()):
            raise ProtocolError("the server stored other bytes than were sent")
        return info

    async def download_media(self, media_id: str) -> bytes:
        """The blob's encrypted bytes, checked against the server's ``ETag`` (their SHA-256)."""
        request = self._http.build_request(
            "GET", _media_path(media_id), headers=self._media_headers()
        )
        response = await self._send_media(request)
        etag = response.headers.get("etag", "").strip('"')
        if etag and hashlib.sha256(response.content).hexdigest() != etag:
            raise ProtocolError(f"media {media_id} does not match its ETag")
        return response.content

    async def stream_media(self, media_id: str) -> AsyncIterator[bytes]:
        """The blob's encrypted bytes as they arrive, for blobs too large to hold in memory.

        The caller must check the hash (carried in the encrypted message) before trusting them.
        """
        request = self._http.build_request(
            "GET", _media_path(media_id), headers=self._media_headers()
        )
        response = await self._send_media(request, stream=True)
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        except httpx.TransportError as exc:
            raise Unreachable(self.base_url, str(exc) or type(exc).__name__) from None
        finally:
            await response.aclose()

    async def delete_media(self, media_id: str) -> None:
        """Delete a blob this account uploaded."""
        request = self._http.build_request(
            "DELETE", _media_path(media_id), headers=self._media_headers()
        )
        await self._send_media(request)

    def _media_headers(self, content_type: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._require_token()}"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        return headers

    async def _send_media(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        try:
            response = await self._http.send(request, stream=stream)
            if response.is_error:
                await response.aread()
                await response.aclose()
                raise ApiError.from_response(response)
        except httpx.TransportError as exc:
            raise Unreachable(self.base_url, str(exc) or type(exc).__name__) from None
        return response


def _media_path(media_id: str) -> str:
    return f"/v1/media/{quote(media_id, safe='')}"
