"""Looking people up by username: ids and display names only, for signed-in users."""

from __future__ import annotations

import httpx
import pytest

from courtyard.client import ApiError, Client
from tests.conftest import bearer, register


async def test_lookup_by_username_gives_id_and_display_name(client: httpx.AsyncClient) -> None:
    alice, bob = await register(client, "alice"), await register(client, "bob")
    response = await client.get("/v1/users/by-username/BOB", headers=bearer(alice))
    assert response.status_code == 200
    assert response.json() == {"user_id": bob["user_id"], "username": "bob", "display_name": "Bob"}


@pytest.mark.parametrize("name", ["nobody", "no", "x" * 64, "bad name"])
async def test_unknown_or_invalid_usernames_are_not_found(
    client: httpx.AsyncClient, name: str
) -> None:
    alice = await register(client, "alice")
    response = await client.get(f"/v1/users/by-username/{name}", headers=bearer(alice))
    assert response.status_code == 404
    assert response.json()["code"] == "user_not_found"


async def test_lookup_needs_a_signed_in_user(client: httpx.AsyncClient) -> None:
    await register(client, "alice")
    assert (await client.get("/v1/users/by-username/alice")).status_code == 401


async def test_the_sdk_looks_users_up(client: httpx.AsyncClient) -> None:
    bob = await register(client, "bob")
    alice = await register(client, "alice")
    transport = client._transport
    async with Client("http://courtyard.test", alice["access_token"], transport=transport) as sdk:
        found = await sdk.lookup_user("bob")
        assert found.user_id == bob["user_id"]
        with pytest.raises(ApiError) as missing:
            await sdk.lookup_user("carol")
    assert missing.value.code == "user_not_found"
