"""Relay on Synapse: bench/relay.py's shape (K private encrypted rooms of two, every user syncing).

Senders PUT ``m.room.encrypted`` events carrying the same Megolm ciphertext as the Courtyard
relay; receivers long-poll ``/sync``. Latency runs from the send's start (closed loop) or its
scheduled time (open loop) to the receiver's sync answer holding the event id.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import httpx

from bench.accounts import Device, bounded
from bench.driver import Send
from bench.plan import measure_points, standard_points, warm_up
from bench.profile import Profile
from bench.rawhttp import Pool
from bench.recorder import Recorder
from bench.sockets import OnEvent
from bench.synapse.client import ENCRYPTED, direct, megolm_content, register_many, room_path
from bench.synapse.server import Running
from bench.synapse.sync import SyncSet

_txn = itertools.count()


class SynapseRelay:
    """The set-up state: pairs (sender, receiver), their rooms, bodies and sync loops."""

    def __init__(self, port: int, pairs: list[tuple[Device, Device]], rooms: list[str]) -> None:
        self.pairs = pairs
        self.paths = [room_path(room, f"send/{ENCRYPTED}/") for room in rooms]
        self.bodies = [json.dumps(megolm_content(sender)).encode() for sender, _ in pairs]
        self.receivers = {receiver.user_id for _, receiver in pairs}
        self.recorder = Recorder()
        self.syncs = SyncSet(port)

    def attach(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def on_event(self, user: Device) -> OnEvent:
        if user.user_id not in self.receivers:
            return lambda _event_id: None  # the sender's own copy is not a delivery
        return lambda event_id: self.recorder.on_received(event_id)

    def sender(self, pool: Pool) -> Send:
        async def send(index: int) -> str:
            k = index % len(self.pairs)
            path = f"{self.paths[k]}b{next(_txn)}"
            status, data = await pool.request("PUT", path, self.bodies[k], self.pairs[k][0].token)
            if status != 200:
                raise RuntimeError(f"send answered {status}: {data[:200]!r}")
            event_id: str = json.loads(data)["event_id"]
            return event_id

        return send


async def prepare(running: Running, pairs: int) -> SynapseRelay:
    served, secret = running.served, running.homeserver.shared_secret
    async with httpx.AsyncClient(base_url=served.url, timeout=120, trust_env=False) as http:
        users = await register_many(http, secret, "r", 2 * pairs)
        couples = [(users[2 * i], users[2 * i + 1]) for i in range(pairs)]
        rooms = await bounded(direct(http, a, b) for a, b in couples)
        relay = SynapseRelay(served.port, couples, rooms)
        await relay.syncs.start(http, users, relay.on_event)
    await asyncio.sleep(1.0)  # let every loop's long-poll reach the server first
    return relay


async def run_synapse_relay(running: Running, profile: Profile) -> dict[str, Any]:
    """Warm up, then every concurrency (closed loop) and every offered rate (open loop)."""
    served = running.served
    relay = await prepare(running, profile.pairs)
    port, pid = served.port, served.pid
    try:
        warmup = await warm_up(port, pid, relay.sender, relay.attach, profile)
        points = await measure_points(
            port, pid, standard_points(profile), lambda _point, pool: relay.sender(pool),
            relay.attach, profile, _print,
        )  # fmt: skip
    finally:
        await relay.syncs.close()
    return {"version": running.version, "devices": 2 * profile.pairs,
            "conversations": profile.pairs, "warmup": warmup, "points": points}  # fmt: skip


def _print(point: dict[str, Any]) -> None:
    knob = point.get("concurrency") or point.get("rate")
    print(
        f"  synapse {point['mode']:>6} {knob:>5}: {point['delivered_per_s']:>8} msg/s "
        f"p50 {point['p50_ms']} p99 {point['p99_ms']} ms, "
        f"cpu {point['server_cpu_ms_per_msg']} ms/msg, lost {point['sent'] - point['delivered']}",
        flush=True,
    )
