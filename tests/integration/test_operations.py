"""Health, readiness, metrics, and logs that never carry passwords or tokens."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI

from courtyard.core.logging import JsonFormatter
from tests.conftest import PASSWORD, bearer, register


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_ready_checks_database_and_bus(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "bus": "ok"}


async def test_ready_is_503_when_the_database_is_gone(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    runtime = app.state.runtime

    async def broken() -> None:
        raise ConnectionError("database down")

    runtime.db.ping = broken
    response = await client.get("/ready")
    assert response.status_code == 503
    assert response.json()["database"].startswith("unavailable")
    assert response.json()["bus"] == "ok"


async def test_metrics_count_requests_by_route(client: httpx.AsyncClient) -> None:
    await register(client, "alice")
    await client.get("/health")
    text = (await client.get("/metrics")).text
    assert (
        'courtyard_http_requests_total{method="POST",route="/v1/accounts",status="201"} 1.0' in text
    )
    assert "courtyard_http_request_seconds_bucket" in text
    assert "courtyard_sync_sockets" in text


async def test_responses_carry_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert len(response.headers["x-request-id"]) == 36


async def test_logs_never_contain_passwords_or_tokens(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    session = await register(client, "alice")
    await client.post("/v1/sessions", json={"username": "alice", "password": "wrong password!"})
    await client.post(
        "/v1/account/password",
        json={"current_password": PASSWORD, "new_password": "another good passphrase"},
        headers=bearer(session),
    )
    await client.get("/v1/sync?since=0", headers=bearer(session))
    formatter = JsonFormatter()
    written = "\n".join(formatter.format(record) for record in caplog.records)
    assert "courtyard.access" in written  # the access log did run
    for secret in (PASSWORD, "wrong password!", "another good passphrase", session["access_token"]):
        assert secret not in written
