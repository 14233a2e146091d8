"""Two ``courtyard serve`` nodes on one PostgreSQL database and one NATS server.

A device holds a WebSocket on node B while facts are written through node A. Its socket is
cut, node B's bus connection is cut (hints published meanwhile are lost), and node B crashes
and restarts; the device still ends with every fact exactly once, in order.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from courtyard.client import Backoff, Client
from courtyard.db.migrate import upgrade
from tests.client_support import Collector, assert_exactly_once_in_order, consent_for
from tests.conftest import NATS_URL, PASSWORD, PG_URL, drop_pg_database, recreate_pg_database
from tests.e2e.server_process import ServerProcess
from tests.tcp_proxy import ThreadedTcpProxy

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (PG_URL and NATS_URL),
        reason="needs PostgreSQL and NATS: set COURTYARD_TEST_PG and COURTYARD_TEST_NATS",
    ),
]

FACTS = 90
BUS_RECHECK = 15.0  # at most; the nodes' default sync_recheck_seconds is longer
FAST_RETRY = Backoff(initial=0.05, maximum=0.5)


@pytest.fixture
def shared_database() -> Iterator[str]:
    name = f"courtyard_e2e_{os.getpid()}"
    url = asyncio.run(recreate_pg_database(name))
    upgrade(url)
    yield url
    asyncio.run(drop_pg_database(name))


@pytest.fixture
def bus_proxy() -> Iterator[ThreadedTcpProxy]:
    """Node B reaches NATS only through this proxy, so the test can cut its bus."""
    nats = urlsplit(NATS_URL)
    with ThreadedTcpProxy(nats.hostname or "127.0.0.1", nats.port or 4222) as proxy:
        yield proxy


@pytest.fixture
async def nodes(
    shared_database: str, bus_proxy: ThreadedTcpProxy, tmp_path: Path
) -> AsyncIterator[tuple[ServerProcess, ServerProcess]]:
    node_a = ServerProcess(tmp_path / "a", database_url=shared_database, bus_url=NATS_URL)
    node_b = ServerProcess(
        tmp_path / "b", database_url=shared_database, bus_url=f"nats://{bus_proxy.address}"
    )
    await asyncio.gather(asyncio.to_thread(node_a.start), asyncio.to_thread(node_b.start))
    try:
        yield node_a, node_b
    finally:
        await asyncio.gather(asyncio.to_thread(node_a.stop), asyncio.to_thread(node_b.stop))


async def test_a_device_on_node_b_gets_every_fact_written_on_node_a_exactly_once(
    nodes: tuple[ServerProcess, ServerProcess], bus_proxy: ThreadedTcpProxy
) -> None:
    node_a, node_b = nodes
    written = 0

    async def write(writer: Client, count: int) -> None:
        nonlocal written
        for _ in range(count):
            await writer.update_profile(f"name {written}")
            written += 1

    async with Client(node_a.url) as writer:
        session = await writer.register(
            "alice", PASSWORD, "Alice", "DE", "writer", **await consent_for(writer, "DE")
        )
        with ThreadedTcpProxy("127.0.0.1", node_b.port) as socket_proxy:
            device = Client(
                f"http://{socket_proxy.address}", session.access_token, backoff=FAST_RETRY
            )
            async with device, Collector(device.events(since=0, mode="ws")) as seen:
                await seen.wait_for(1, within=15)  # device.added, through node B

                # 1. The device's socket drops mid-stream; the SDK resumes.
                await write(writer, 10)
                assert socket_proxy.cut() >= 1
                await write(writer, 20)
                await seen.wait_for(1 + written, within=BUS_RECHECK / 2)

                # 2. Node B loses the bus; hints published meanwhile are gone. Delivery must
                # come from the reconnect, well before the periodic recheck would.
                assert bus_proxy.cut() >= 1
                bus_proxy.pause()
                await asyncio.sleep(0.5)
                await write(writer, 15)
                bus_proxy.resume()
                await seen.wait_for(1 + written, within=BUS_RECHECK / 2)

                # 3. Node B crashes while facts keep coming through node A, then restarts.
                await asyncio.to_thread(node_b.kill)
                await write(writer, 15)
                await asyncio.to_thread(node_b.start)
                await seen.wait_for(1 + written, within=30)

                # 4. Business as usual.
                await write(writer, FACTS - written)
                events = await seen.wait_for(1 + FACTS, within=30)
                final = await seen.settle(0.5)

    assert_exactly_once_in_order(final)
    assert len(final) == FACTS + 1
    assert [e.position for e in events] == list(range(1, FACTS + 2))
    assert [e.content["display_name"] for e in events[1:]] == [f"name {n}" for n in range(FACTS)]
    log_b = node_b.logs()
    assert "bus disconnected" in log_b
    assert "bus reconnected" in log_b
