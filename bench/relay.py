"""Relay: K 1:1 conversations, senders posting Megolm envelopes, receivers on sync sockets."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import httpx

from bench.accounts import Device, bounded, direct, envelope, register_many
from bench.driver import Bounds, Send, closed_loop, open_loop
from bench.measure import repeated
from bench.procs import Served
from bench.profile import Profile
from bench.rawhttp import Pool
from bench.recorder import Recorder
from bench.sockets import OnEvent, SocketSet

# A driver loop: closed (int concurrency) or open (float rate), bound to its send later.
Loop = Callable[[Send, Any, Bounds, Recorder], Awaitable[float]]

OPEN_LOOP_POOL = 64  # bounds the backlog an overloaded server carries into the next point
_txn = itertools.count()


class Relay:
    """The set-up state: pairs (sender, receiver), their conversations and envelopes."""

    def __init__(
        self, served: Served, pairs: list[tuple[Device, Device]], convs: list[str]
    ) -> None:
        self.served = served
        self.pairs = pairs
        self.paths = [f"/v1/conversations/{c}/messages" for c in convs]
        self.bodies = [envelope(sender) for sender, _ in pairs]
        self.receivers = {receiver.device_id for _, receiver in pairs}
        self.recorder = Recorder()
        self.sockets = SocketSet()

    def attach(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def on_event(self, device: Device) -> OnEvent:
        if device.device_id not in self.receivers:
            return lambda _event_id: None  # the sender's own copy is not a delivery
        return lambda event_id: self.recorder.on_received(event_id)

    def sender(self, pool: Pool) -> Any:
        async def send(index: int) -> str:
            k = index % len(self.pairs)
            body = self.bodies[k] + f',"txn_id":"b{next(_txn)}"}}'.encode()
            status, data = await pool.request("POST", self.paths[k], body, self.pairs[k][0].token)
            if status != 200:
                raise RuntimeError(f"send answered {status}: {data[:200]!r}")
            event_id: str = json.loads(data)["event_id"]
            return event_id

        return send


async def prepare(served: Served, pairs: int) -> Relay:
    async with httpx.AsyncClient(base_url=served.url, timeout=120, trust_env=False) as http:
        devices = await register_many(http, "r", 2 * pairs)
        couples = [(devices[2 * i], devices[2 * i + 1]) for i in range(pairs)]
        convs = await bounded(direct(http, a, b) for a, b in couples)
    relay = Relay(served, couples, convs)
    await relay.sockets.connect(served.url, devices, relay.on_event)
    await asyncio.sleep(1.0)  # let the creation events reach the sockets first
    return relay


async def run_relay(served: Served, profile: Profile) -> dict[str, Any]:
    """Warm up, then every concurrency (closed loop) and every offered rate (open loop)."""
    relay = await prepare(served, profile.pairs)
    pid, points = served.pid, []
    try:
        warm = Bounds(60.0, profile.warmup_messages, 3.0)
        pool = Pool(served.port, 16)
        send = relay.sender(pool)
        warmup = await repeated(
            1, {"mode": "warmup", "concurrency": 16}, pid,
            partial(closed_loop, send, 16, warm), relay.attach,
        )  # fmt: skip
        pool.close()
        # Closed-loop points at each concurrency, then open-loop points at each offered rate.
        plan: list[tuple[int, dict[str, Any], Loop, float]] = [
            (c, {"mode": "closed", "concurrency": c}, closed_loop, c) for c in profile.concurrencies
        ] + [
            (OPEN_LOOP_POOL, {"mode": "open", "rate": rate}, open_loop, rate)
            for rate in profile.rates
        ]
        for pool_size, label, loop, setting in plan:
            pool = Pool(served.port, pool_size)
            driver = partial(loop, relay.sender(pool), setting, profile.bounds)
            points.append(await repeated(profile.repeats, label, pid, driver, relay.attach))
            pool.close()
            _print(points[-1])
    finally:
        await relay.sockets.close()
    return {"devices": 2 * profile.pairs, "conversations": profile.pairs, "warmup": warmup,
            "points": points}  # fmt: skip


def _print(point: dict[str, Any]) -> None:
    knob = point.get("concurrency") or point.get("rate")
    print(
        f"  relay {point['mode']:>6} {knob:>5}: {point['delivered_per_s']:>8} msg/s "
        f"p50 {point['p50_ms']} p99 {point['p99_ms']} ms, "
        f"cpu {point['server_cpu_ms_per_msg']} ms/msg, lost {point['sent'] - point['delivered']}",
        flush=True,
    )
