"""The SDK against the real app through ``httpx.ASGITransport``: sessions, devices, errors and
long-poll sync."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from courtyard.client import ApiError, AuthError, Backoff, Client
from tests.client_support import Collector, assert_exactly_once_in_order, consent_for
from tests.conftest import PASSWORD

BASE_URL = "http://courtyard.test"
FAST = Backoff(initial=0.01, maximum=0.05)

ClientFactory = Callable[[], AbstractAsyncContextManager[Client]]


@pytest.fixture
def new_client(app: FastAPI) -> ClientFactory:
    """Open SDK clients on the app, each with its own (unauthenticated) state."""

    @asynccontextmanager
    async def factory() -> AsyncIterator[Client]:
        transport = httpx.ASGITransport(app=app)
        async with Client(BASE_URL, transport=transport, backoff=FAST) as client:
            yield client

    return factory


async def test_register_login_rename_remove_and_logout(new_client: ClientFactory) -> None:
    async with new_client() as laptop, new_client() as phone:
        registered = await laptop.register(
            "alice",
            PASSWORD,
            "Alice",
            "DE",
            device_name="laptop",
            **await consent_for(laptop, "DE"),
        )
        assert laptop.token == registered.access_token
        assert "access_token" not in repr(registered)
        me = await laptop.whoami()
        assert (me.user_id, me.username, me.display_name, me.region) == (
            registered.user_id,
            "alice",
            "Alice",
            "DE",
        )
        assert me.device_id == registered.device_id

        second = await phone.login("alice", PASSWORD, device_name="phone")
        assert second.user_id == registered.user_id
        assert second.device_id != registered.device_id
        devices = await phone.devices()
        assert [(d.display_name, d.current) for d in devices] == [
            ("laptop", False),
            ("phone", True),
        ]

        renamed = await laptop.rename_device(second.device_id, "old phone")
        assert (renamed.device_id, renamed.display_name) == (second.device_id, "old phone")
        assert "old phone" in [d.display_name for d in await laptop.devices()]

        await phone.remove_device(registered.device_id)
        with pytest.raises(AuthError) as revoked:
            await laptop.whoami()
        assert revoked.value.code == "invalid_token"

        await phone.logout()
        assert phone.token is None
    async with new_client() as stale:
        stale.token = second.access_token
        with pytest.raises(AuthError):
            await stale.whoami()


async def test_profile_and_password_changes_apply(new_client: ClientFactory) -> None:
    async with new_client() as laptop, new_client() as phone:
        await laptop.register("alice", PASSWORD, "Alice", "DE", **await consent_for(laptop, "DE"))
        await phone.login("alice", PASSWORD)
        updated = await laptop.update_profile("Ally")
        assert updated.display_name == "Ally"
        assert (await phone.whoami()).display_name == "Ally"

        await laptop.change_password(PASSWORD, "a much newer passphrase")
        with pytest.raises(AuthError):  # other devices were signed out
            await phone.whoami()
        with pytest.raises(ApiError) as old:
            await phone.login("alice", PASSWORD)
        assert old.value.code == "invalid_credentials"
        await phone.login("alice", "a much newer passphrase")
        assert (await phone.whoami()).username == "alice"


async def test_wrong_password_raises_invalid_credentials(new_client: ClientFactory) -> None:
    async with new_client() as client:
        await client.register("alice", PASSWORD, "Alice", "DE", **await consent_for(client, "DE"))
        client.token = None
        with pytest.raises(ApiError) as raised:
            await client.login("alice", "not the password at all")
    error = raised.value
    assert isinstance(error, AuthError)
    assert (error.status, error.code) == (401, "invalid_credentials")
    assert error.title == "Wrong username or password"
    assert client.token is None


async def test_server_problems_map_to_codes(new_client: ClientFactory) -> None:
    async with new_client() as client:
        await client.register("alice", PASSWORD, "Alice", "DE", **await consent_for(client, "DE"))
        with pytest.raises(ApiError) as taken:
            await client.register(
                "alice", PASSWORD, "Alice", "DE", **await consent_for(client, "DE")
            )
        with pytest.raises(ApiError) as region:
            await client.register("bob", PASSWORD, "Bob", "XX", **await consent_for(client, "DE"))
    assert (taken.value.status, taken.value.code) == (409, "username_taken")
    assert (region.value.status, region.value.code) == (400, "invalid_region")


async def test_calls_without_a_token_fail_before_reaching_the_server(
    new_client: ClientFactory,
) -> None:
    async with new_client() as client:
        with pytest.raises(AuthError) as raised:
            await client.whoami()
    assert raised.value.code == "not_authenticated"


async def test_another_users_device_is_not_found(new_client: ClientFactory) -> None:
    async with new_client() as alice, new_client() as bob:
        a = await alice.register("alice", PASSWORD, "Alice", "DE", **await consent_for(alice, "DE"))
        await bob.register("bob", PASSWORD, "Bob", "FR", **await consent_for(bob, "FR"))
        with pytest.raises(ApiError) as removing:
            await bob.remove_device(a.device_id)
        with pytest.raises(ApiError) as renaming:
            await bob.rename_device(a.device_id, "mine now")
        assert [d.device_id for d in await alice.devices()] == [a.device_id]
        assert (await alice.whoami()).device_id == a.device_id
    assert (removing.value.status, removing.value.code) == (404, "device_not_found")
    assert renaming.value.code == "device_not_found"


async def test_a_device_id_cannot_reach_another_route(new_client: ClientFactory) -> None:
    async with new_client() as alice:
        await alice.register("alice", PASSWORD, "Alice", "DE", **await consent_for(alice, "DE"))
        # Unquoted, "../account/profile" would resolve to PATCH /v1/account/profile.
        with pytest.raises(ApiError) as raised:
            await alice.rename_device("../account/profile", "Mallory")
        assert raised.value.status == 404
        assert (await alice.whoami()).display_name == "Alice"


async def test_poll_events_yield_each_fact_once_in_order(new_client: ClientFactory) -> None:
    async with new_client() as laptop, new_client() as phone:
        await laptop.register(
            "alice",
            PASSWORD,
            "Alice",
            "DE",
            device_name="laptop",
            **await consent_for(laptop, "DE"),
        )
        second = await phone.login("alice", PASSWORD, device_name="phone")
        await laptop.update_profile("Ally")
        await laptop.rename_device(second.device_id, "pocket")

        async with Collector(laptop.events(since=0, mode="poll", poll_timeout_ms=100)) as sink:
            events = await sink.wait_for(4)
            assert [e.type for e in events] == [
                "device.added",
                "device.added",
                "profile.changed",
                "device.renamed",
            ]
            assert [e.position for e in events] == [1, 2, 3, 4]
            assert events[2].content == {"display_name": "Ally"}
            assert events[3].content == {"device_id": second.device_id, "display_name": "pocket"}

            await phone.update_profile("Alice again")
            await sink.wait_for(5)
            everything = await sink.settle()
    assert len(everything) == 5
    assert (everything[4].type, everything[4].position) == ("profile.changed", 5)
    assert_exactly_once_in_order(everything)


async def test_poll_events_resume_after_a_given_position(new_client: ClientFactory) -> None:
    async with new_client() as client:
        await client.register("alice", PASSWORD, "Alice", "DE", **await consent_for(client, "DE"))
        for name in ("A", "B", "C"):
            await client.update_profile(name)
        async with Collector(client.events(since=2, mode="poll", poll_timeout_ms=100)) as sink:
            await sink.wait_for(2)
            resumed = await sink.settle()
    assert [(e.position, e.content["display_name"]) for e in resumed] == [(3, "B"), (4, "C")]


async def test_poll_events_acknowledge_what_was_taken(new_client: ClientFactory) -> None:
    async with new_client() as client:
        await client.register("alice", PASSWORD, "Alice", "DE", **await consent_for(client, "DE"))
        await client.update_profile("Ally")
        async with Collector(client.events(mode="poll", poll_timeout_ms=100)) as first:
            await first.wait_for(2)
            await first.settle()  # coming back for more acknowledged position 2
        assert first.types == ["device.added", "profile.changed"]
        await client.update_profile("Al")
        async with Collector(client.events(mode="poll", poll_timeout_ms=100)) as later:
            await later.wait_for(1)
            resumed = await later.settle()
    assert [(e.position, e.content["display_name"]) for e in resumed] == [(3, "Al")]


async def test_poll_events_raise_once_the_device_is_removed(new_client: ClientFactory) -> None:
    async with new_client() as laptop, new_client() as phone:
        await laptop.register("alice", PASSWORD, "Alice", "DE", **await consent_for(laptop, "DE"))
        second = await phone.login("alice", PASSWORD)
        async with Collector(phone.events(since=2, mode="poll", poll_timeout_ms=2_000)) as sink:
            await asyncio.sleep(0.1)  # the long-poll is waiting
            await laptop.remove_device(second.device_id)
            error = await sink.wait_for_error()
    assert isinstance(error, AuthError)
    assert error.code == "invalid_token"
    assert sink.types == ["device.removed"]


async def test_auto_mode_with_a_custom_transport_long_polls(new_client: ClientFactory) -> None:
    async with new_client() as client:
        await client.register("alice", PASSWORD, "Alice", "DE", **await consent_for(client, "DE"))
        async with Collector(client.events(poll_timeout_ms=100)) as sink:
            (event,) = await sink.wait_for(1)
    assert event.type == "device.added"
