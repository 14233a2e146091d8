"""Registration rules, password changes and profile changes through the API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from courtyard.core.regions import is_country_code
from tests.conftest import PASSWORD, bearer, policy_consent, register


async def _register(http: httpx.AsyncClient, **fields: str) -> httpx.Response:
    body: dict[str, Any] = {
        "username": "alice", "password": PASSWORD, "display_name": "Alice", "region": "DE",
    }  # fmt: skip
    body.update(fields)
    # Consent to the policy of the region asked for (for one that is no country, any).
    country = body["region"] if is_country_code(body["region"].upper()) else "DE"
    body.update(await policy_consent(http, country))
    return await http.post("/v1/accounts", json=body)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"password": "short"}, "weak_password"),
        ({"password": "password1"}, "weak_password"),
        ({"username": "a"}, "invalid_username"),
        ({"username": "alice smith"}, "invalid_username"),
        ({"username": "1alice"}, "invalid_username"),
        ({"region": "XX"}, "invalid_region"),
        ({"display_name": "   "}, "invalid_input"),
        ({"display_name": "bad\u0000name"}, "invalid_input"),
    ],
)
async def test_registration_rules(
    client: httpx.AsyncClient, fields: dict[str, str], code: str
) -> None:
    response = await _register(client, **fields)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code
    # Nothing was created: the same username registers fine afterwards.
    assert (await _register(client)).status_code == 201


async def test_usernames_are_unique_case_insensitively(client: httpx.AsyncClient) -> None:
    assert (await _register(client, username="Alice")).status_code == 201
    taken = await _register(client, username="alice")
    assert taken.status_code == 409
    assert taken.json()["code"] == "username_taken"


async def test_region_is_normalised(client: httpx.AsyncClient) -> None:
    session = (await _register(client, region="cn")).json()
    assert (await client.get("/v1/account", headers=bearer(session))).json()["region"] == "CN"


async def test_change_password_ends_other_sessions(client: httpx.AsyncClient) -> None:
    laptop = await register(client, "alice")
    phone = (
        await client.post("/v1/sessions", json={"username": "alice", "password": PASSWORD})
    ).json()
    new = "a brand new passphrase"
    changed = await client.post(
        "/v1/account/password",
        json={"current_password": PASSWORD, "new_password": new},
        headers=bearer(laptop),
    )
    assert changed.status_code == 204
    assert (await client.get("/v1/account", headers=bearer(phone))).status_code == 401
    assert (await client.get("/v1/account", headers=bearer(laptop))).status_code == 200
    old = await client.post("/v1/sessions", json={"username": "alice", "password": PASSWORD})
    assert old.status_code == 401
    ok = await client.post("/v1/sessions", json={"username": "alice", "password": new})
    assert ok.status_code == 200


async def test_change_password_needs_the_current_one(client: httpx.AsyncClient) -> None:
    session = await register(client, "alice")
    response = await client.post(
        "/v1/account/password",
        json={"current_password": "not my password", "new_password": "a brand new passphrase"},
        headers=bearer(session),
    )
    assert response.status_code == 403
    assert response.json()["code"] == "wrong_password"
    login = await client.post("/v1/sessions", json={"username": "alice", "password": PASSWORD})
    assert login.status_code == 200


async def test_change_password_applies_the_rules(client: httpx.AsyncClient) -> None:
    session = await register(client, "alice")
    response = await client.post(
        "/v1/account/password",
        json={"current_password": PASSWORD, "new_password": "12345678"},
        headers=bearer(session),
    )
    assert response.json()["code"] == "weak_password"


async def test_profile_change_is_visible_and_streamed(client: httpx.AsyncClient) -> None:
    session = await register(client, "alice")
    response = await client.patch(
        "/v1/account/profile", json={"display_name": "Alice Liddell"}, headers=bearer(session)
    )
    assert response.json()["display_name"] == "Alice Liddell"
    events = (await client.get("/v1/sync?since=1", headers=bearer(session))).json()["events"]
    assert [(e["type"], e["content"]) for e in events] == [
        ("profile.changed", {"display_name": "Alice Liddell"})
    ]
