"""Sync sockets: each connected device records the message events it is pushed, and can send
messages and transfers on its socket (``send`` and ``wallet.transfer`` frames, answered by
``sent``, ``wallet.result`` or ``error`` frames)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake

from bench.accounts import Device, bounded

OnEvent = Callable[[str], None]


async def open_socket(url: str, device: Device, since: int | None = None) -> ClientConnection:
    path = "/v1/sync/ws" if since is None else f"/v1/sync/ws?since={since}"
    return await connect(
        url.replace("http://", "ws://") + path,
        additional_headers={"Authorization": f"Bearer {device.token}"},
        ping_interval=None,  # idle devices should cost what the server makes them cost
        open_timeout=60,
        max_size=None,
        compression=None,
    )


class Answers:
    """Futures for ``send`` frames in flight on sockets, settled by their ``ref``."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._refs = itertools.count()

    def expect(self) -> tuple[str, asyncio.Future[dict[str, Any]]]:
        ref = f"s{next(self._refs)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ref] = future
        return ref, future

    def settle(self, frame: dict[str, Any]) -> None:
        future = self._waiting.pop(frame.get("ref", ""), None)
        if future is not None and not future.done():
            future.set_result(frame)

    def forget(self, ref: str) -> None:
        self._waiting.pop(ref, None)


async def read_messages(
    socket: ClientConnection, device: Device, on_event: OnEvent, answers: Answers | None = None
) -> None:
    """Call ``on_event(event_id)`` for every ``m.encrypted`` event pushed to this device."""
    with contextlib.suppress(Exception):
        async for frame in socket:
            batch = json.loads(frame)
            if batch.get("type") in ("sent", "wallet.result", "error"):
                if answers is not None:
                    answers.settle(batch)
                continue
            for event in batch.get("events", ()):
                if event["type"] == "conversation.event" and (
                    event["content"].get("type") == "m.encrypted"
                ):
                    on_event(event["event_id"])


class SocketSet:
    """Many connected devices with a reader task each; closed together."""

    def __init__(self) -> None:
        self.sockets: list[ClientConnection] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.by_device: dict[str, ClientConnection] = {}
        self.answers = Answers()

    async def connect(
        self, url: str, devices: list[Device], on_event: Callable[[Device], OnEvent],
        concurrency: int = 64,
    ) -> None:  # fmt: skip
        async def one(device: Device) -> None:
            try:
                socket = await open_socket(url, device)
            except (OSError, TimeoutError, InvalidHandshake):  # counted as not connected
                return
            self.sockets.append(socket)
            self.by_device[device.device_id] = socket
            reader = read_messages(socket, device, on_event(device), self.answers)
            self.tasks.append(asyncio.create_task(reader))

        await bounded((one(d) for d in devices), limit=concurrency)

    async def reconnect_closed(
        self, url: str, devices: list[Device], on_event: Callable[[Device], OnEvent],
        concurrency: int = 64,
    ) -> int:  # fmt: skip
        """Open a new socket for each device whose socket the server closed (as a client
        does after 1013 "try again later"); returns how many were reopened."""
        live = {d for d, s in self.by_device.items() if s.close_code is None}
        closed = [d for d in devices if d.device_id not in live]
        self.sockets = [s for s in self.sockets if s.close_code is None]
        await self.connect(url, closed, on_event, concurrency)
        return len(closed)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await bounded((s.close() for s in self.sockets), limit=256)
        self.sockets.clear()
        self.tasks.clear()
        self.by_device.clear()
