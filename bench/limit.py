"""Limit: the bare uvicorn stack (``bench.echo_app``) driven by the same client loop."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from functools import partial
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.driver import closed_loop
from bench.measure import repeated
from bench.procs import Served
from bench.profile import Profile
from bench.rawhttp import Pool
from bench.recorder import Recorder

PAD = "x" * 400  # about the size of a Courtyard send body
_ids = itertools.count()


class Echo:
    """Sockets to the echo app; every frame that comes back is a delivery."""

    def __init__(self) -> None:
        self.recorder = Recorder()
        self.sockets: list[ClientConnection] = []
        self.waiting: dict[str, asyncio.Future[None]] = {}
        self.tasks: list[asyncio.Task[None]] = []

    def attach(self, recorder: Recorder) -> None:
        self.recorder = recorder

    async def open(self, served: Served, count: int) -> None:
        for n in range(count):
            url = f"ws://127.0.0.1:{served.port}/ws/{n}"
            socket = await connect(url, ping_interval=None, compression=None, max_size=None)
            self.sockets.append(socket)
            self.tasks.append(asyncio.create_task(self._read(socket)))

    async def _read(self, socket: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for frame in socket:
                message_id = str(frame).split(":", 1)[0]
                self.recorder.on_received(message_id)
                waiter = self.waiting.pop(message_id, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)

    async def echo_send(self, index: int) -> str:
        """Send on socket ``index mod n`` and wait for the echo (a WebSocket round trip)."""
        message_id = f"e{next(_ids)}"
        waiter = asyncio.get_running_loop().create_future()
        self.waiting[message_id] = waiter
        await self.sockets[index % len(self.sockets)].send(f"{message_id}:{PAD}")
        await waiter
        return message_id

    def relay_sender(self, pool: Pool) -> Any:
        """POST to ``/relay/n``; the app pushes the body to socket ``n`` (Courtyard's shape)."""

        async def send(index: int) -> str:
            message_id = f"h{next(_ids)}"
            path = f"/relay/{index % len(self.sockets)}"
            status, _ = await pool.request("POST", path, f"{message_id}:{PAD}".encode(), "-")
            if status != 200:
                raise RuntimeError(f"relay answered {status}")
            return message_id

        return send

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for socket in self.sockets:
            await socket.close()


async def run_limit(served: Served, profile: Profile) -> dict[str, Any]:
    """WebSocket echo and HTTP→WebSocket relay at each concurrency, closed loop."""
    echo = Echo()
    await echo.open(served, profile.pairs)
    result: dict[str, list[dict[str, Any]]] = {"ws_echo": [], "http_relay": []}
    try:
        for c in profile.concurrencies:
            label = {"mode": "closed", "concurrency": c}
            point = await repeated(
                profile.repeats, label, served.pid,
                partial(closed_loop, echo.echo_send, c, profile.bounds), echo.attach,
            )  # fmt: skip
            result["ws_echo"].append(point)
            pool = Pool(served.port, c)
            send = echo.relay_sender(pool)
            relay_point = await repeated(
                profile.repeats, label, served.pid,
                partial(closed_loop, send, c, profile.bounds), echo.attach,
            )  # fmt: skip
            pool.close()
            result["http_relay"].append(relay_point)
            print(
                f"  limit c={c}: ws echo {point['delivered_per_s']} msg/s, "
                f"http relay {relay_point['delivered_per_s']} msg/s",
                flush=True,
            )
    finally:
        await echo.close()
    return result
