"""Accounts through the HTTP API: register, login, logout, whoami, password change."""

from __future__ import annotations

import httpx

from tests.conftest import bearer, register


async def test_register_returns_a_working_token(client: httpx.AsyncClient) -> None:
    session = await register(client, "alice")
    me = await client.get("/v1/account", headers=bearer(session))
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    assert me.json()["device_id"] == session["device_id"]
    assert me.json()["region"] == "DE"


async def test_logout_kills_the_token(client: httpx.AsyncClient) -> None:
    session = await register(client, "alice")
    assert (await client.delete("/v1/sessions/current", headers=bearer(session))).status_code == 204
    after = await client.get("/v1/account", headers=bearer(session))
    assert after.status_code == 401
    assert after.json()["code"] == "invalid_token"
    assert after.headers["content-type"] == "application/problem+json"
