"""Sync sockets: each connected device records the message events it is pushed."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable

from websockets.asyncio.client import ClientConnection, connect

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


async def read_messages(socket: ClientConnection, device: Device, on_event: OnEvent) -> None:
    """Call ``on_event(event_id)`` for every ``m.encrypted`` event pushed to this device."""
    with contextlib.suppress(Exception):
        async for frame in socket:
            batch = json.loads(frame)
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

    async def connect(
        self, url: str, devices: list[Device], on_event: Callable[[Device], OnEvent],
        concurrency: int = 64,
    ) -> None:  # fmt: skip
        async def one(device: Device) -> None:
            socket = await open_socket(url, device)
            self.sockets.append(socket)
            self.tasks.append(asyncio.create_task(read_messages(socket, device, on_event(device))))

        await bounded((one(d) for d in devices), limit=concurrency)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await bounded((s.close() for s in self.sockets), limit=256)
        self.sockets.clear()
        self.tasks.clear()
