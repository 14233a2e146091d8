"""The SDK's WebSocket sync against a live uvicorn server, through a TCP proxy the tests cut."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from courtyard.client import ApiError, AuthError, Backoff, Client
from courtyard.client import conversations as api
from tests.client_support import Collector, assert_exactly_once_in_order, consent_for
from tests.conftest import PASSWORD
from tests.integration.conversation_support import megolm_envelope
from tests.tcp_proxy import TcpProxy

FAST = Backoff(initial=0.02, maximum=0.1)


@pytest.fixture
async def proxy(live_server: str) -> AsyncIterator[TcpProxy]:
    """A TCP proxy in front of the live server, for cutting the reader's connection."""
    target = urlsplit(live_server)
    async with TcpProxy(target.hostname or "127.0.0.1", target.port or 80) as proxy:
        yield proxy


def via(proxy: TcpProxy) -> str:
    return f"http://{proxy.address}"


async def test_socket_events_arrive_live_and_are_acknowledged(live_server: str) -> None:
    async with Client(live_server, backoff=FAST) as client:
        await client.register("alice", PASSWORD, "Alice", "DE", **await consent_for(client, "DE"))
        async with Collector(client.events(mode="ws")) as sink:
            await sink.wait_for(1)
            await client.update_profile("Ally")
            events = await sink.wait_for(2)
            await sink.settle(0.2)
        assert [e.type for e in events] == ["device.added", "profile.changed"]
        assert events[1].content == {"display_name": "Ally"}
        # The socket acknowledged position 2: the device's own resume point moved there.
        pending, position = await client.sync_once()
    assert (pending, position) == ([], 2)


async def test_auto_mode_without_a_transport_uses_the_socket(live_server: str) -> None:
    async with Client(live_server, backoff=FAST) as client:
        await client.register("alice", PASSWORD, "Alice", "DE", **await consent_for(client, "DE"))
        # No socket means no sync: auto mode must not quietly fall back to long-polling.
        client.sync_once = None  # type: ignore[assignment]
        async with Collector(client.events(since=0)) as sink:
            (event,) = await sink.wait_for(1)
    assert event.type == "device.added"


async def test_socket_events_survive_drops_and_refusals_exactly_once(
    live_server: str, proxy: TcpProxy
) -> None:
    async with (
        Client(live_server) as writer,
        Client(via(proxy), backoff=FAST, timeout=2.0) as reader,
    ):
        await writer.register("alice", PASSWORD, "Alice", "DE", **await consent_for(writer, "DE"))
        await reader.login("alice", PASSWORD, device_name="reader")
        async with Collector(reader.events(since=0, mode="ws")) as sink:
            await sink.wait_for(2)
            for n in range(3):
                await writer.update_profile(f"before cut {n}")
            assert await proxy.cut() >= 1  # mid-stream: some may be in flight when it goes
            for n in range(3):
                await writer.update_profile(f"after cut {n}")
            await sink.wait_for(8)

            proxy.pause()  # now reconnecting fails for a while
            await proxy.cut()
            for n in range(3):
                await writer.update_profile(f"while down {n}")
            await asyncio.sleep(0.3)
            proxy.resume()
            await sink.wait_for(11)
            received = await sink.settle()
        truth, _ = await writer.sync_once(since=0, limit=500)

    assert_exactly_once_in_order(received)
    assert [e.event_id for e in received] == [e.event_id for e in truth]
    assert [e.position for e in received] == list(range(1, 12))
    assert proxy.accepted >= 3, "the reader never had to reconnect"
    assert sink.error is None


async def test_removed_device_stream_raises_instead_of_reconnecting(
    live_server: str, proxy: TcpProxy
) -> None:
    async with Client(live_server) as laptop, Client(via(proxy), backoff=FAST) as phone:
        await laptop.register("alice", PASSWORD, "Alice", "DE", **await consent_for(laptop, "DE"))
        second = await phone.login("alice", PASSWORD)
        async with Collector(phone.events(since=2, mode="ws")) as sink:
            await asyncio.sleep(0.2)  # the socket is open and waiting
            await laptop.remove_device(second.device_id)
            error = await sink.wait_for_error()
            connections = proxy.accepted
            await asyncio.sleep(0.3)
    assert isinstance(error, AuthError)
    assert error.code == "invalid_token"
    assert sink.types == ["device.removed"]
    assert proxy.accepted == connections, "it reconnected after the token died"


async def test_a_revoked_token_is_refused_at_the_handshake(live_server: str) -> None:
    async with Client(live_server, backoff=FAST) as client:
        await client.register("alice", PASSWORD, "Alice", "DE", **await consent_for(client, "DE"))
        token = client.token
        await client.logout()
        client.token = token
        async with Collector(client.events(mode="ws")) as sink:
            error = await sink.wait_for_error()
    assert isinstance(error, AuthError)
    assert (error.status, error.code) == (401, "invalid_token")
    assert sink.events == []


async def test_messages_ride_on_the_live_socket_and_go_over_http_without_one(
    live_server: str, proxy: TcpProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Client(live_server) as bob, Client(via(proxy), backoff=FAST) as alice:
        alice_session = await alice.register(
            "alice", PASSWORD, "Alice", "DE", **await consent_for(alice, "DE")
        )
        bob_session = await bob.register(
            "bob", PASSWORD, "Bob", "DE", **await consent_for(bob, "DE")
        )
        conversation = await api.create_conversation(alice, "direct", [bob_session.user_id])
        cid = conversation.conversation_id
        envelope = megolm_envelope({"device_id": alice_session.device_id})
        posts: list[str] = []
        call = alice._call

        async def counted(method: str, path: str, **kwargs: Any) -> Any:
            if path.endswith("/messages"):
                posts.append(method)
            return await call(method, path, **kwargs)

        monkeypatch.setattr(alice, "_call", counted)
        first = await api.send_message(alice, cid, "t0", envelope)  # no socket yet: HTTP
        assert posts == ["POST"]
        async with Collector(alice.events(mode="ws")) as sink:
            await sink.wait_for(1)
            assert alice.socket_sends.live
            sent = await api.send_message(alice, cid, "t1", envelope)
            again = await api.send_message(alice, cid, "t1", envelope)
            assert again == api.SentEvent(sent.seq, sent.event_id, replayed=True)
            with pytest.raises(ApiError) as refused:
                await api.send_message(alice, cid, "t2", {**envelope, "ciphertext": "!"})
            assert refused.value.code == "not_megolm_encrypted"
            assert posts == ["POST"]  # all three went on the socket
            assert await proxy.cut() >= 1  # the socket drops: HTTP or the next socket
            late = await api.send_message(alice, cid, "t3", envelope)
        history, _ = await api.history(bob, cid)
        seqs = [e.seq for e in history if e.type == "m.encrypted"]
        assert seqs == [first.seq, sent.seq, late.seq]
        assert seqs == list(range(first.seq, first.seq + 3))
