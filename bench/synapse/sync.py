"""Sync long-poll loops: each user chains ``/sync?since=…`` and reports its encrypted events.

Synapse has no WebSocket sync; a client holds one ``/sync`` request open (``timeout``) per
user, and the answer carries every event since its token. Each loop has its own keep-alive
connection, the same minimal client the senders use.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from bench.accounts import Device, bounded
from bench.rawhttp import Connection
from bench.sockets import OnEvent
from bench.synapse.client import CLIENT, ENCRYPTED, upload_filter

LONG_POLL_MS = 30_000
RETRY_S = 0.2


def encrypted_event_ids(batch: dict[str, Any]) -> list[str]:
    """The ``m.room.encrypted`` event ids in the joined rooms' timelines of a sync answer."""
    ids: list[str] = []
    for room in batch.get("rooms", {}).get("join", {}).values():
        for event in room.get("timeline", {}).get("events", ()):
            if event.get("type") == ENCRYPTED:
                ids.append(event["event_id"])
    return ids


def sync_path(filter_id: str, since: str | None, timeout_ms: int = LONG_POLL_MS) -> str:
    path = f"{CLIENT}/sync?filter={quote(filter_id, safe='')}&timeout={timeout_ms}"
    return path if since is None else f"{path}&since={quote(since, safe='')}"


class SyncSet:
    """Many users each in a sync loop; started together after an initial sync, closed together."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connections: list[Connection] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def start(
        self, http: httpx.AsyncClient, users: list[Device], on_event: Callable[[Device], OnEvent],
        concurrency: int = 8,
    ) -> None:  # fmt: skip
        """Upload each user's filter, take an initial sync, then long-poll from its token."""

        async def one(user: Device) -> None:
            filter_id = await upload_filter(http, user)
            initial = await http.get(
                sync_path(filter_id, None, 0), headers={"Authorization": f"Bearer {user.token}"}
            )
            initial.raise_for_status()
            connection = Connection(self.port)
            self.connections.append(connection)
            since: str = initial.json()["next_batch"]
            poll = _poll(connection, user, filter_id, since, on_event(user))
            self.tasks.append(asyncio.create_task(poll))

        await bounded((one(u) for u in users), limit=concurrency)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for connection in self.connections:
            connection.close()
        self.connections.clear()
        self.tasks.clear()


async def _poll(
    connection: Connection, user: Device, filter_id: str, since: str, on_event: OnEvent
) -> None:
    """Long-poll ``/sync`` from ``since`` until cancelled, reporting each encrypted event."""
    token = since
    while True:
        try:
            status, data = await connection.fresh_request(
                "GET", sync_path(filter_id, token), b"", user.token
            )
            if status != 200:
                raise RuntimeError(f"sync answered {status}")
            batch = json.loads(data)
            token = batch["next_batch"]
        except Exception:  # a broken answer or connection: reconnect and poll again
            connection.close()
            await asyncio.sleep(RETRY_S)
            continue
        for event_id in encrypted_event_ids(batch):
            on_event(event_id)
