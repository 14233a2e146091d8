"""Bad input gets a 4xx problem with a stable code, never a 500, and changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import PASSWORD, bearer, register


async def _user_count(http: httpx.AsyncClient) -> int:
    # Registration of the same name succeeds only if the earlier bad request created nothing.
    response = await http.post("/v1/sessions", json={"username": "alice", "password": PASSWORD})
    return 1 if response.status_code == 200 else 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"username": "alice", ', 400, "malformed_json"),
        (b"\xff\xfe not json", 400, "malformed_json"),
        (
            b'{"username": 5, "password": [], "display_name": {}, "region": 1}',
            422,
            "invalid_request",
        ),
        (b'{"username": "alice"}', 422, "invalid_request"),
        (b"[]", 422, "invalid_request"),
        (
            b'{"username": "alice", "password": "x", "display_name": "A", "region": "DE", '
            b'"admin": true}',
            422,
            "invalid_request",
        ),
    ],
)
async def test_malformed_and_mistyped_bodies(
    client: httpx.AsyncClient, body: bytes, status: int, code: str
) -> None:
    response = await client.post(
        "/v1/accounts", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code
    assert problem["status"] == status
    assert problem["type"] == f"urn:courtyard:problem:{code}"
    assert await _user_count(client) == 0


async def test_oversize_body_is_refused_by_content_length(client: httpx.AsyncClient) -> None:
    huge = b'{"username": "' + b"a" * 2_000_000 + b'"}'
    response = await client.post(
        "/v1/accounts", content=huge, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


async def test_oversize_chunked_body_is_refused(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"x" * 65_536

    response = await client.post(
        "/v1/accounts", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


async def test_unknown_route_and_wrong_method_are_problems(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    wrong = await client.put("/v1/accounts")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer",
        "Bearer nonsense",
        "Basic YWxpY2U6cGFzcw==",
        "Bearer cyt_" + "A" * 43,
        "Bearer cyt_" + "A" * 500,
    ],
)
async def test_bad_tokens_are_401(client: httpx.AsyncClient, authorization: str) -> None:
    response = await client.get("/v1/account", headers={"authorization": authorization})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


@pytest.mark.parametrize("query", ["since=-1", "since=abc", "timeout=999999", "limit=0"])
async def test_bad_sync_parameters(client: httpx.AsyncClient, query: str) -> None:
    session = await register(client, "alice")
    response = await client.get(f"/v1/sync?{query}", headers=bearer(session))
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
