"""Relay: K 1:1 conversations, senders posting Megolm envelopes, receivers on sync sockets."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import httpx

from bench.accounts import Device, bounded, direct, envelope, register_many
from bench.driver import Send, closed_loop
from bench.plan import Point, measure_points, standard_points, warm_up
from bench.procs import Served
from bench.profile import Profile
from bench.rawhttp import Pool
from bench.recorder import Recorder
from bench.sockets import OnEvent, SocketSet

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

    def socket_sender(self) -> Send:
        """Sends as ``send`` frames on each sender's own sync socket (no HTTP request)."""
        prefixes = [
            b'{"type":"send","conversation_id":"' + path.split("/")[3].encode() + b'",'
            + body[1:]
            for path, body in zip(self.paths, self.bodies, strict=True)
        ]  # fmt: skip
        sockets = [self.sockets.by_device[sender.device_id] for sender, _ in self.pairs]
        answers = self.sockets.answers

        async def send(index: int) -> str:
            k = index % len(self.pairs)
            ref, answer = answers.expect()
            frame = prefixes[k] + f',"txn_id":"b{next(_txn)}","ref":"{ref}"}}'.encode()
            try:
                await sockets[k].send(frame.decode())
                reply = await answer
            finally:
                answers.forget(ref)
            if reply["type"] != "sent":
                raise RuntimeError(f"send answered {reply['problem']['code']}")
            event_id: str = reply["event_id"]
            return event_id

        return send

    def sender(self, pool: Pool) -> Send:
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
    """Warm up, then every concurrency (closed loop) and every offered rate (open loop) with
    sends on the devices' sockets, then the closed-loop concurrencies again over HTTP."""
    relay = await prepare(served, profile.pairs)
    port, pid = served.port, served.pid
    try:
        warmup = await warm_up(port, pid, relay.sender, relay.attach, profile)
        plan = standard_points(profile, "socket")
        plan += [p for p in standard_points(profile, "http") if p.loop is closed_loop]
        for point in plan:
            point.label.setdefault("transport", point.transport)

        def send_for(point: Point, pool: Pool) -> Send:
            return relay.socket_sender() if point.transport == "socket" else relay.sender(pool)

        points = await measure_points(port, pid, plan, send_for, relay.attach, profile, _print)
    finally:
        await relay.sockets.close()
    return {"devices": 2 * profile.pairs, "conversations": profile.pairs, "warmup": warmup,
            "points": points}  # fmt: skip


def _print(point: dict[str, Any]) -> None:
    knob = point.get("concurrency") or point.get("rate")
    print(
        f"  relay {point.get('transport', 'http'):>6} {point['mode']:>6} {knob:>5}: "
        f"{point['delivered_per_s']:>8} msg/s "
        f"p50 {point['p50_ms']} p99 {point['p99_ms']} ms, "
        f"cpu {point['server_cpu_ms_per_msg']} ms/msg, lost {point['sent'] - point['delivered']}",
        flush=True,
    )
