"""The SDK's media methods against the real app: through ``httpx.ASGITransport``, and over real
HTTP (uvicorn) where uploads are streamed chunked and downloads streamed back."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from courtyard.client import ApiError, Client, MediaInfo, ProtocolError
from tests.client_support import consent_for

BASE_URL = "http://courtyard.test"
MIB = 1_048_576


async def chunks_of(data: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.fixture
async def alice(app: FastAPI) -> AsyncIterator[Client]:
    async with Client(BASE_URL, transport=httpx.ASGITransport(app=app)) as client:
        await client.register(
            "alice",
            "correct horse battery staple",
            "Alice",
            "DE",
            **await consent_for(client, "DE"),
        )
        yield client


@pytest.fixture
async def bob(app: FastAPI) -> AsyncIterator[Client]:
    async with Client(BASE_URL, transport=httpx.ASGITransport(app=app)) as client:
        await client.register(
            "bob", "correct horse battery staple", "Bob", "DE", **await consent_for(client, "DE")
        )
        yield client


async def test_bytes_uploaded_by_one_user_download_intact_for_another(
    alice: Client, bob: Client
) -> None:
    data = os.urandom(3 * MIB)

    info = await alice.upload_media(data)

    assert info == MediaInfo(info.media_id, len(data), hashlib.sha256(data).hexdigest())
    assert await bob.download_media(info.media_id) == data
    assert b"".join([c async for c in bob.stream_media(info.media_id)]) == data


async def test_an_async_iterator_upload_is_streamed_and_checked(alice: Client) -> None:
    data = os.urandom(MIB + 5)

    info = await alice.upload_media(chunks_of(data))

    assert (info.size, info.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert await alice.download_media(info.media_id) == data


async def test_only_the_uploader_deletes(alice: Client, bob: Client) -> None:
    info = await alice.upload_media(b"ciphertext")

    with pytest.raises(ApiError) as not_yours:
        await bob.delete_media(info.media_id)
    assert (not_yours.value.status, not_yours.value.code) == (404, "media_not_found")

    await alice.delete_media(info.media_id)
    with pytest.raises(ApiError) as gone:
        await bob.download_media(info.media_id)
    assert gone.value.code == "media_not_found"
    with pytest.raises(ApiError) as gone_streaming:
        _ = [c async for c in bob.stream_media(info.media_id)]
    assert gone_streaming.value.code == "media_not_found"


async def test_errors_carry_the_server_problem_code(alice: Client) -> None:
    with pytest.raises(ApiError) as empty:
        await alice.upload_media(b"")
    assert (empty.value.status, empty.value.code) == (400, "empty_media")


async def test_a_download_that_does_not_match_its_etag_is_refused() -> None:
    def lying_server(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"tampered", headers={"ETag": '"' + "0" * 64 + '"'})

    async with Client(BASE_URL, token="t", transport=httpx.MockTransport(lying_server)) as client:
        with pytest.raises(ProtocolError, match="does not match its ETag"):
            await client.download_media("m")


async def test_an_upload_answer_with_another_hash_is_refused() -> None:
    def lying_server(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json={"media_id": "m", "size": 3, "sha256": "0" * 64})

    async with Client(BASE_URL, token="t", transport=httpx.MockTransport(lying_server)) as client:
        with pytest.raises(ProtocolError, match="other bytes than were sent"):
            await client.upload_media(b"abc")


async def test_streaming_up_and_down_over_real_http(live_server: str) -> None:
    data = os.urandom(4 * MIB + 1)
    async with Client(live_server) as uploader, Client(live_server) as reader:
        await uploader.register(
            "carol",
            "correct horse battery staple",
            "Carol",
            "DE",
            **await consent_for(uploader, "DE"),
        )
        await reader.register(
            "dave", "correct horse battery staple", "Dave", "DE", **await consent_for(reader, "DE")
        )

        info = await uploader.upload_media(chunks_of(data, 256 * 1024))
        received = [c async for c in reader.stream_media(info.media_id)]

    assert info.size == len(data)
    assert b"".join(received) == data
    assert len(received) > 1  # it arrived in pieces, not as one buffered body
