"""Two nodes' NATS buses: hints cross nodes, stay per user, stop on unwatch, and a bus that
loses its connection wakes every reader on reconnect, so a hint lost meanwhile costs nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

from courtyard.core.errors import Unavailable
from courtyard.streams import StreamNotifier
from courtyard.streams.bus import WireEvent
from courtyard.streams.nats_bus import NatsBus
from tests.conftest import NATS_URL
from tests.tcp_proxy import TcpProxy

pytestmark = [
    pytest.mark.nats,
    pytest.mark.skipif(
        not NATS_URL, reason="needs a NATS server: set COURTYARD_TEST_NATS=nats://host:port"
    ),
]
WAKE_TIMEOUT = 5.0  # generous: a hint normally arrives within milliseconds
QUIET_PERIOD = 0.3  # how long we watch for a wake-up that must not come


@dataclass
class Node:
    """One server node's view of the bus: the bus and the notifier that fans hints out."""

    bus: NatsBus
    notifier: StreamNotifier


@dataclass
class Recorder:
    """Listeners that remember every hint, for tests that look below the notifier."""

    advances: list[tuple[str, int]] = field(default_factory=list)
    events: list[WireEvent | None] = field(default_factory=list)
    resets: int = 0

    def on_advance(self, user_id: str, position: int, event: WireEvent | None) -> None:
        self.advances.append((user_id, position))
        self.events.append(event)

    def on_reset(self) -> None:
        self.resets += 1


@dataclass
class Cluster:
    a: Node
    b: Node
    proxy: TcpProxy  # sits between node B's bus and the NATS server


def new_user() -> str:
    # Unique per test, so concurrent runs against one NATS server cannot cross-talk.
    return f"u-{uuid.uuid4().hex}"


async def eventually(predicate: Callable[[], bool], timeout: float = WAKE_TIMEOUT) -> bool:
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return predicate()


async def bus_is_down(bus: NatsBus) -> bool:
    try:
        await bus.ping()
    except Unavailable:
        return True
    return False


async def eventually_down(bus: NatsBus) -> bool:
    for _ in range(int(WAKE_TIMEOUT / 0.02)):
        if await bus_is_down(bus):
            return True
        await asyncio.sleep(0.02)
    return False


async def eventually_up(bus: NatsBus) -> bool:
    for _ in range(int(WAKE_TIMEOUT / 0.02)):
        if not await bus_is_down(bus):
            return True
        await asyncio.sleep(0.02)
    return False


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    target = urlsplit(NATS_URL)
    proxy = await TcpProxy(target.hostname or "127.0.0.1", target.port or 4222).start()
    bus_a, bus_b = NatsBus(NATS_URL), NatsBus(f"nats://{proxy.address}")
    nodes = Cluster(Node(bus_a, StreamNotifier(bus_a)), Node(bus_b, StreamNotifier(bus_b)), proxy)
    await bus_a.start()
    await bus_b.start()
    try:
        yield nodes
    finally:
        # Let node B reconnect first: closing drains, which a reconnecting client refuses.
        proxy.resume()
        await eventually_up(bus_b)
        await bus_a.close()
        await bus_b.close()
        await proxy.close()


async def test_publish_on_one_node_wakes_a_waiter_for_that_user_on_the_other(
    cluster: Cluster,
) -> None:
    alice = new_user()
    async with cluster.b.notifier.listen(alice) as waiter:
        await cluster.b.bus.ping()  # the subscription has reached the server

        await cluster.a.bus.publish(alice, 7)

        assert await waiter.wait(WAKE_TIMEOUT)


async def test_a_hint_carries_its_event_to_the_other_node_and_a_reader_takes_it(
    cluster: Cluster,
) -> None:
    alice = new_user()
    event = {"position": 3, "event_id": new_user(), "type": "t", "content": {"x": "你好"},
             "created_at": "2026-11-28T00:00:00Z"}  # fmt: skip
    async with cluster.b.notifier.listen(alice) as waiter:
        await cluster.b.bus.ping()
        await cluster.a.bus.publish(alice, 3, event)
        assert await waiter.wait(WAKE_TIMEOUT)
        assert waiter.take(2, 10) == [event]


async def test_a_hint_for_one_user_does_not_wake_another(cluster: Cluster) -> None:
    alice, bob = new_user(), new_user()
    async with (
        cluster.b.notifier.listen(alice) as alice_waiter,
        cluster.b.notifier.listen(bob) as bob_waiter,
    ):
        await cluster.b.bus.ping()

        await cluster.a.bus.publish(alice, 1)

        # NATS keeps one publisher's order per subscriber connection: once Alice's hint is
        # here, a misrouted one would be too.
        assert await alice_waiter.wait(WAKE_TIMEOUT)
        assert not await bob_waiter.wait(QUIET_PERIOD)


async def test_unwatch_stops_delivery_once_the_last_watcher_leaves(cluster: Cluster) -> None:
    alice, sentinel = new_user(), new_user()
    seen = Recorder()
    cluster.b.bus.set_listeners(seen.on_advance, seen.on_reset)
    await cluster.b.bus.watch(alice)
    await cluster.b.bus.watch(alice)  # two local readers of Alice's stream
    await cluster.b.bus.watch(sentinel)
    await cluster.b.bus.ping()

    await cluster.b.bus.unwatch(alice)  # one reader left: still subscribed
    await cluster.b.bus.ping()
    await cluster.a.bus.publish(alice, 1)
    assert await eventually(lambda: (alice, 1) in seen.advances)

    await cluster.b.bus.unwatch(alice)  # the last one: unsubscribed
    await cluster.b.bus.ping()
    await cluster.a.bus.publish(alice, 2)
    await cluster.a.bus.publish(sentinel, 1)  # sent after Alice's, so delivered after it

    assert await eventually(lambda: (sentinel, 1) in seen.advances)
    assert [hint for hint in seen.advances if hint[0] == alice] == [(alice, 1)]


async def test_ping_answers_while_connected_and_raises_when_the_bus_is_down(
    cluster: Cluster,
) -> None:
    await cluster.a.bus.ping()
    await cluster.b.bus.ping()

    cluster.proxy.pause()
    await cluster.proxy.cut()

    assert await eventually_down(cluster.b.bus)
    await cluster.a.bus.ping()  # node A's own connection is untouched
    cluster.proxy.resume()
    assert await eventually_up(cluster.b.bus)


async def test_reconnect_wakes_every_waiter_so_a_hint_lost_in_the_outage_costs_nothing(
    cluster: Cluster,
) -> None:
    alice, bob = new_user(), new_user()
    async with (
        cluster.b.notifier.listen(alice) as alice_waiter,
        cluster.b.notifier.listen(bob) as bob_waiter,
    ):
        await cluster.b.bus.ping()
        alice_waiter.clear()
        bob_waiter.clear()

        cluster.proxy.pause()  # node B cannot reconnect until we say so
        assert await cluster.proxy.cut() == 1
        assert await eventually_down(cluster.b.bus)

        # Alice's stream advances during the outage; core NATS drops the hint for node B.
        await cluster.a.bus.publish(alice, 3)
        await cluster.a.bus.ping()
        assert not await alice_waiter.wait(QUIET_PERIOD)

        cluster.proxy.resume()

        # The reconnect resets the notifier: Alice's reader wakes and re-reads her stream
        # although her hint never arrived, and so does Bob's, who had no hint at all.
        assert await alice_waiter.wait(WAKE_TIMEOUT)
        assert await bob_waiter.wait(WAKE_TIMEOUT)
        assert cluster.proxy.accepted == 2

        # And node B is subscribed again: new hints arrive as before.
        await cluster.b.bus.ping()
        alice_waiter.clear()
        await cluster.a.bus.publish(alice, 4)
        assert await alice_waiter.wait(WAKE_TIMEOUT)


async def test_close_while_the_bus_is_down_does_not_raise(cluster: Cluster) -> None:
    cluster.proxy.pause()
    await cluster.proxy.cut()
    assert await eventually_down(cluster.b.bus)

    await cluster.b.bus.close()
    client = cluster.b.bus._nc
    assert client is not None
    assert client.is_closed  # it stopped reconnecting in the background
