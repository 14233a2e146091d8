"""The media API: encrypted blobs stored byte for byte, streamed with a size limit that holds
with or without an honest ``Content-Length``, readable by any signed-in user who knows the id,
deletable by their uploader alone; a refused upload leaves neither a file nor a row."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from courtyard.core.clock import FrozenClock
from courtyard.core.config import Settings, load_settings
from courtyard.domains.media import FileBlobStore
from tests.conftest import bearer, register

MIB = 1_048_576
BINARY = {"Content-Type": "application/octet-stream"}


def media_root(app: FastAPI) -> Path:
    settings: Settings = app.state.runtime.settings
    return settings.data_dir / "media"


def blob_files(app: FastAPI) -> list[Path]:
    """Every file in the media directory, temporary ones included."""
    return sorted(p for p in media_root(app).rglob("*") if p.is_file())


async def media_rows(app: FastAPI) -> list[dict[str, Any]]:
    async with app.state.runtime.db.read() as session:
        result = await session.execute(
            text("SELECT media_id, user_id, size, sha256, content_type FROM media")
        )
        return [dict(row._mapping) for row in result]


async def upload(
    http: httpx.AsyncClient, session: dict[str, str], content: Any, **headers: str
) -> httpx.Response:
    return await http.post(
        "/v1/media", content=content, headers={**BINARY, **bearer(session), **headers}
    )


async def in_chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.fixture
async def small_app(
    database_url: str, tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[FastAPI]:
    """An app whose media limit is the smallest allowed: 1 MiB."""
    from courtyard.api import create_app

    settings = load_settings(
        database_url=database_url, data_dir=tmp_path, log_format="text", max_media_bytes=MIB
    )
    application = create_app(settings, clock=clock)
    await application.state.runtime.start()
    try:
        yield application
    finally:
        await application.state.runtime.stop()


@pytest.fixture
async def small(small_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=small_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://courtyard.test") as http:
        yield http


async def test_an_upload_downloads_byte_for_byte_with_its_hash(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    alice, bob = await register(client, "alice"), await register(client, "bob")
    data = os.urandom(3 * MIB + 17)  # over the 1 MiB JSON body limit, under the media limit

    uploaded = await upload(client, alice, data)

    assert uploaded.status_code == 201, uploaded.text
    body = uploaded.json()
    sha256 = hashlib.sha256(data).hexdigest()
    assert body == {"media_id": body["media_id"], "size": len(data), "sha256": sha256}
    downloaded = await client.get(f"/v1/media/{body['media_id']}", headers=bearer(bob))
    assert downloaded.status_code == 200
    assert downloaded.content == data
    assert downloaded.headers["content-type"] == "application/octet-stream"
    assert downloaded.headers["content-length"] == str(len(data))
    assert downloaded.headers["etag"] == f'"{sha256}"'
    cache_control = downloaded.headers["cache-control"]
    assert "private" in cache_control
    assert "immutable" in cache_control
    assert downloaded.headers["accept-ranges"] == "bytes"


async def test_the_blob_on_disk_is_exactly_the_uploaded_ciphertext_and_the_row_reveals_no_type(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    alice = await register(client, "alice")
    data = os.urandom(200_000)

    media_id = (await upload(client, alice, data)).json()["media_id"]

    path = FileBlobStore(media_root(app)).path(media_id)
    assert blob_files(app) == [path]
    assert path.read_bytes() == data
    assert await media_rows(app) == [
        {
            "media_id": media_id,
            "user_id": alice["user_id"],
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "content_type": "application/octet-stream",
        }
    ]


async def test_a_chunked_upload_without_content_length_is_stored(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    alice = await register(client, "alice")
    data = os.urandom(2 * MIB + 3)

    uploaded = await upload(client, alice, in_chunks(data))

    assert uploaded.status_code == 201, uploaded.text
    media_id = uploaded.json()["media_id"]
    downloaded = await client.get(f"/v1/media/{media_id}", headers=bearer(alice))
    assert downloaded.content == data


async def test_a_declared_length_over_the_limit_is_refused_before_reading(
    small_app: FastAPI, small: httpx.AsyncClient
) -> None:
    alice = await register(small, "alice")

    refused = await upload(small, alice, os.urandom(MIB + 1))

    assert refused.status_code == 413
    assert refused.json()["code"] == "payload_too_large"
    assert blob_files(small_app) == []
    assert await media_rows(small_app) == []


async def test_a_chunked_upload_that_grows_over_the_limit_leaves_nothing(
    small_app: FastAPI, small: httpx.AsyncClient
) -> None:
    alice = await register(small, "alice")

    refused = await upload(small, alice, in_chunks(os.urandom(MIB + 1)))

    assert refused.status_code == 413
    assert refused.json()["code"] == "payload_too_large"
    assert blob_files(small_app) == []
    assert await media_rows(small_app) == []


async def test_exactly_the_limit_is_accepted(small_app: FastAPI, small: httpx.AsyncClient) -> None:
    alice = await register(small, "alice")

    accepted = await upload(small, alice, in_chunks(os.urandom(MIB)))

    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["size"] == MIB


@pytest.mark.parametrize(
    ("declared", "sent"),
    [
        (100, 5000),  # claims less: refused once the body passes the claim
        (5000, 100),  # claims more: refused at the end
        (1000, MIB + 10),  # claims to be small, is over the limit
    ],
)
async def test_a_content_length_that_lies_is_refused_and_leaves_nothing(
    small_app: FastAPI, small: httpx.AsyncClient, declared: int, sent: int
) -> None:
    alice = await register(small, "alice")

    refused = await upload(small, alice, os.urandom(sent), **{"Content-Length": str(declared)})

    assert refused.status_code == 400
    assert refused.json()["code"] == "content_length_mismatch"
    assert blob_files(small_app) == []
    assert await media_rows(small_app) == []


async def test_an_empty_upload_is_refused(app: FastAPI, client: httpx.AsyncClient) -> None:
    alice = await register(client, "alice")

    refused = await upload(client, alice, b"")

    assert refused.status_code == 400
    assert refused.json()["code"] == "empty_media"
    assert blob_files(app) == []
    assert await media_rows(app) == []


@pytest.mark.parametrize("content_type", ["image/png", "text/plain", "application/json", ""])
async def test_a_revealing_or_missing_content_type_is_refused(
    app: FastAPI, client: httpx.AsyncClient, content_type: str
) -> None:
    alice = await register(client, "alice")

    refused = await client.post(
        "/v1/media",
        content=b"\x89PNG...",
        headers={**bearer(alice), "Content-Type": content_type},
    )

    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_media_type"
    assert blob_files(app) == []
    assert await media_rows(app) == []


async def test_a_failed_database_write_removes_the_blob(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await register(client, "alice")

    class BrokenClock:
        def now(self) -> Any:
            raise RuntimeError("simulated failure while recording the blob")

    monkeypatch.setattr(app.state.runtime.media, "clock", BrokenClock())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://courtyard.test") as http:
        failed = await upload(http, alice, os.urandom(1000))

    assert failed.status_code == 500
    assert blob_files(app) == []
    assert await media_rows(app) == []


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize(
    "media_id", ["01900000-0000-7000-8000-0000000000aa", "not-an-id", "..", "%2e%2e%2fcourtyard.db"]
)
async def test_unknown_media_is_404(client: httpx.AsyncClient, method: str, media_id: str) -> None:
    alice = await register(client, "alice")

    response = await client.request(method, f"/v1/media/{media_id}", headers=bearer(alice))

    assert response.status_code == 404
    assert response.json()["code"] in {"media_not_found", "not_found"}


async def test_the_uploader_deletes_the_file_and_the_row(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    alice = await register(client, "alice")
    media_id = (await upload(client, alice, os.urandom(5000))).json()["media_id"]

    deleted = await client.delete(f"/v1/media/{media_id}", headers=bearer(alice))

    assert deleted.status_code == 204
    assert blob_files(app) == []
    assert await media_rows(app) == []
    gone = await client.get(f"/v1/media/{media_id}", headers=bearer(alice))
    assert gone.status_code == 404
    assert gone.json()["code"] == "media_not_found"


async def test_another_user_cannot_delete_and_learns_only_404(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    alice, mallory = await register(client, "alice"), await register(client, "mallory")
    data = os.urandom(5000)
    media_id = (await upload(client, alice, data)).json()["media_id"]

    refused = await client.delete(f"/v1/media/{media_id}", headers=bearer(mallory))

    assert refused.status_code == 404
    assert refused.json()["code"] == "media_not_found"
    assert len(blob_files(app)) == 1
    assert len(await media_rows(app)) == 1
    assert (await client.get(f"/v1/media/{media_id}", headers=bearer(mallory))).content == data


async def test_anonymous_callers_can_do_nothing(app: FastAPI, client: httpx.AsyncClient) -> None:
    alice = await register(client, "alice")
    media_id = (await upload(client, alice, b"ciphertext")).json()["media_id"]

    assert (await client.post("/v1/media", content=b"x", headers=BINARY)).status_code == 401
    assert (await client.get(f"/v1/media/{media_id}")).status_code == 401
    assert (await client.delete(f"/v1/media/{media_id}")).status_code == 401
    assert len(await media_rows(app)) == 1


DATA = bytes(range(256)) * 4  # 1024 bytes whose slices are easy to recognise


@pytest.mark.parametrize(
    ("header", "status", "first", "last"),
    [
        ("bytes=0-9", 206, 0, 9),
        ("bytes=1000-", 206, 1000, 1023),
        ("bytes=-5", 206, 1019, 1023),
        ("bytes=-5000", 206, 0, 1023),
        ("bytes=1020-999999", 206, 1020, 1023),
        ("bytes=0-1,5-6", 200, 0, 1023),  # several ranges: the whole blob
        ("items=0-9", 200, 0, 1023),  # another unit: ignored
        ("bytes=9-3", 200, 0, 1023),  # malformed: ignored
    ],
)
async def test_a_single_byte_range_is_served_partially(
    client: httpx.AsyncClient, header: str, status: int, first: int, last: int
) -> None:
    alice = await register(client, "alice")
    media_id = (await upload(client, alice, DATA)).json()["media_id"]

    response = await client.get(f"/v1/media/{media_id}", headers={**bearer(alice), "Range": header})

    assert response.status_code == status
    assert response.content == DATA[first : last + 1]
    assert response.headers["content-length"] == str(last - first + 1)
    if status == 206:
        assert response.headers["content-range"] == f"bytes {first}-{last}/1024"
    else:
        assert "content-range" not in response.headers


@pytest.mark.parametrize("header", ["bytes=1024-", "bytes=5000-6000", "bytes=-0"])
async def test_a_range_beyond_the_end_is_416(client: httpx.AsyncClient, header: str) -> None:
    alice = await register(client, "alice")
    media_id = (await upload(client, alice, DATA)).json()["media_id"]

    response = await client.get(f"/v1/media/{media_id}", headers={**bearer(alice), "Range": header})

    assert response.status_code == 416
    assert response.json()["code"] == "range_not_satisfiable"
    assert response.headers["content-range"] == "bytes */1024"


async def test_json_routes_still_refuse_bodies_over_the_buffered_limit(
    client: httpx.AsyncClient,
) -> None:
    alice = await register(client, "alice")

    response = await client.patch(
        "/v1/account/profile",
        content=b'{"display_name": "' + b"a" * (2 * MIB) + b'"}',
        headers={**bearer(alice), "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
