"""A loopback TCP proxy for tests that must cut a live connection (socket, database, bus).

Put it between a client and a server, then ``cut()`` to reset every open connection at once
and ``pause()``/``resume()`` to refuse new ones for a while, as a dead network would.
``TcpProxy`` lives on the caller's event loop; ``ThreadedTcpProxy`` runs one on a loop of its
own, for synchronous tests and for servers in other processes. When either side of a
connection closes, the proxy closes both (no half-closed connections).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
CHUNK = 65536
# SO_LINGER with a zero timeout makes close() send RST, as a dropped link looks to a peer.
_LINGER_RESET = struct.pack("ii", 1, 0)


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    writer.transport.abort()


class _Link:
    """One proxied connection: both sides, the two pumps between them and their handler."""

    def __init__(
        self,
        client: asyncio.StreamWriter,
        server: asyncio.StreamWriter,
        handler: asyncio.Task[None],
    ) -> None:
        self.client = client
        self.server = server
        self.handler = handler
        self.pumps: list[asyncio.Task[None]] = []

    def reset(self) -> None:
        _reset(self.client)
        _reset(self.server)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


class TcpProxy:
    """Forwards connections from a free loopback port to ``target_host:target_port``."""

    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1") -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.host = host
        self.port = 0
        self.paused = False
        self.accepted = 0  # connections forwarded so far, for tests that count reconnects
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        """``host:port`` to point a client at."""
        return f"{self.host}:{self.port}"

    @property
    def open_connections(self) -> int:
        return len(self._links)

    async def start(self) -> TcpProxy:
        """Listen on a free port (``self.port``); return self."""
        self._server = await asyncio.start_server(self._accept, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aenter__(self) -> TcpProxy:
        return await self.start()

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._forward(reader, writer))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing():
            _reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            _reset(writer)  # the target is down: refuse this client as it would
            return
        except asyncio.CancelledError:
            _reset(writer)  # the proxy is closing
            raise
        if self._refusing():  # paused while we were connecting upstream
            _reset(writer)
            _reset(up_writer)
            return
        handler = asyncio.current_task()
        assert handler is not None
        link = _Link(writer, up_writer, handler)
        self._links.add(link)
        self.accepted += 1
        link.pumps = [
            asyncio.create_task(_pump(reader, up_writer)),
            asyncio.create_task(_pump(up_reader, writer)),
        ]
        try:
            # When either direction ends, the whole connection ends (gracefully: each pump
            # closes its writer, which flushes what is buffered before the FIN).
            await asyncio.wait(link.pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._links.discard(link)
            for pump in link.pumps:
                pump.cancel()
            await asyncio.gather(*link.pumps, return_exceptions=True)

    def _refusing(self) -> bool:
        return self.paused

    async def cut(self) -> int:
        """Reset every open connection (both sides see a connection reset); return how many."""
        links = list(self._links)
        for link in links:
            link.reset()
        # Let each cut connection's handler finish before returning.
        await asyncio.gather(*(link.handler for link in links), return_exceptions=True)
        return len(links)

    def pause(self) -> None:
        """Reset new connections as soon as they arrive, until ``resume()``; open ones stay."""
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    async def close(self) -> None:
        """Stop listening and reset every open connection."""
        if self._server is not None:
            self._server.close()
        await self.cut()
        for handler in list(self._handlers):  # connections still being set up
            handler.cancel()
        await asyncio.gather(*list(self._handlers), return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None


class ThreadedTcpProxy:
    """A ``TcpProxy`` on an event loop in a background thread, driven by blocking calls."""

    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name="tcp-proxy"
        )
        self.proxy = TcpProxy(target_host, target_port, host=host)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    @property
    def port(self) -> int:
        return self.proxy.port

    @property
    def address(self) -> str:
        return self.proxy.address

    def start(self) -> ThreadedTcpProxy:
        self._thread.start()
        self._run(self.proxy.start())
        return self

    def __enter__(self) -> ThreadedTcpProxy:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def cut(self) -> int:
        return self._run(self.proxy.cut())

    def pause(self) -> None:
        self.proxy.pause()  # a plain flag the proxy's loop reads on each new connection

    def resume(self) -> None:
        self.proxy.resume()

    def close(self) -> None:
        if self._loop.is_closed():
            return
        if self._thread.is_alive():
            self._run(self.proxy.close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()
