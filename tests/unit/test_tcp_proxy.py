"""The test TCP proxy forwards bytes both ways, cuts open connections and refuses new ones."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import pytest

from tests.tcp_proxy import TcpProxy, ThreadedTcpProxy


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
    writer.close()


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def _round_trip(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(len(payload)), 5)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _is_dropped(reader: asyncio.StreamReader) -> bool:
    """True once the peer has reset or closed the connection."""
    try:
        return await asyncio.wait_for(reader.read(1), 5) == b""
    except ConnectionError:
        return True


async def test_proxy_forwards_bytes_both_ways(echo_port: int) -> None:
    async with TcpProxy("127.0.0.1", echo_port) as proxy:
        payload = bytes(range(256)) * 1000  # larger than one read, to exercise the pumps
        assert await _round_trip(proxy.port, payload) == payload
        assert proxy.accepted == 1


async def test_cut_drops_open_connections_and_new_ones_still_work(echo_port: int) -> None:
    async with TcpProxy("127.0.0.1", echo_port) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"

        assert await proxy.cut() == 1

        assert await _is_dropped(reader)
        writer.close()
        assert proxy.open_connections == 0
        assert await _round_trip(proxy.port, b"again") == b"again"


async def test_pause_refuses_new_connections_until_resume(echo_port: int) -> None:
    async with TcpProxy("127.0.0.1", echo_port) as proxy:
        kept_reader, kept_writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        kept_writer.write(b"1")
        assert await kept_reader.readexactly(1) == b"1"
        proxy.pause()

        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        assert await _is_dropped(reader)
        writer.close()
        # Pausing leaves the connection that was already open alone.
        kept_writer.write(b"2")
        assert await kept_reader.readexactly(1) == b"2"

        proxy.resume()
        assert await _round_trip(proxy.port, b"back") == b"back"
        kept_writer.close()


def test_threaded_proxy_serves_blocking_clients_and_cuts() -> None:
    with socket.create_server(("127.0.0.1", 0)) as target:
        port = target.getsockname()[1]
        with ThreadedTcpProxy("127.0.0.1", port) as proxy:
            client = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
            upstream, _ = target.accept()
            with client, upstream:
                client.sendall(b"hello")
                assert upstream.recv(5) == b"hello"
                upstream.sendall(b"world")
                assert client.recv(5) == b"world"

                assert proxy.cut() == 1

                with contextlib.suppress(ConnectionError):
                    assert client.recv(1) == b""
