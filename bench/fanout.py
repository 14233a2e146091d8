"""Fan-out: one message to a full group, timed until every member device's socket has it."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import defaultdict
from typing import Any

import httpx

from bench.accounts import Device, envelope, group, register_many
from bench.measure import settle
from bench.procs import Served, cpu_seconds
from bench.profile import Profile
from bench.rawhttp import Pool
from bench.sockets import OnEvent, SocketSet

ROUND_TIMEOUT_S = 30.0


class Arrivals:
    """Arrival times per event id, and a signal once every device has one."""

    def __init__(self, devices: int) -> None:
        self.devices = devices
        self.times: dict[str, list[float]] = defaultdict(list)
        self.complete: dict[str, asyncio.Event] = defaultdict(asyncio.Event)

    def on_event(self, _device: Device) -> OnEvent:
        def record(event_id: str) -> None:
            arrivals = self.times[event_id]
            arrivals.append(time.perf_counter())
            if len(arrivals) == self.devices:
                self.complete[event_id].set()

        return record


async def run_fanout(served: Served, profile: Profile) -> dict[str, Any]:
    size = profile.group_size
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=served.url, timeout=300, trust_env=False) as http:
        devices = await register_many(http, "g", size)
        conversation = await group(http, devices[0], devices[1:])
    setup_s = time.perf_counter() - started
    print(f"  fan-out: {size} users registered and joined in {setup_s:.1f} s", flush=True)
    arrivals = Arrivals(size)
    sockets = SocketSet()
    await sockets.connect(served.url, devices, arrivals.on_event)
    await asyncio.sleep(2.0)
    owner, pool = devices[0], Pool(served.port, 1)
    body, rounds = envelope(owner), []
    try:
        for n in range(profile.fanout_rounds):
            await settle(served.pid)  # the joins' backlog is not part of the fan-out
            cpu_before, sent_at = cpu_seconds(served.pid), time.perf_counter()
            status, data = await pool.request(
                "POST", f"/v1/conversations/{conversation}/messages",
                body + f',"txn_id":"fan{n}"}}'.encode(), owner.token,
            )  # fmt: skip
            answered = time.perf_counter()
            event_id = json.loads(data)["event_id"] if status == 200 else ""
            done = arrivals.complete[event_id]
            try:
                async with asyncio.timeout(ROUND_TIMEOUT_S):
                    await done.wait()
            except TimeoutError:
                pass
            rounds.append(round_figures(arrivals.times[event_id], size, sent_at, answered))
            rounds[-1]["server_cpu_ms"] = round((cpu_seconds(served.pid) - cpu_before) * 1000, 1)
            print(f"  fan-out round {n}: {rounds[-1]}", flush=True)
            await asyncio.sleep(1.0)
    finally:
        pool.close()
        await sockets.close()
    return summary(size, setup_s, rounds)


def round_figures(
    arrived: list[float], size: int, sent_at: float, answered: float
) -> dict[str, Any]:
    """One round's figures, in milliseconds from the send (Courtyard's and Synapse's alike)."""
    times = sorted(arrived)

    def since(at: float) -> float:
        return round((at - sent_at) * 1000, 1)

    return {
        "devices_reached": len(times),
        "send_answered_ms": since(answered),
        "first_ms": since(times[0]) if times else None,
        "median_ms": since(statistics.median(times)) if times else None,
        "all_ms": since(times[-1]) if len(times) == size else None,
    }


def summary(size: int, setup_s: float, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The workload's result: every round, and the median time until every device had it."""
    complete = [r["all_ms"] for r in rounds if r["all_ms"] is not None]
    return {
        "group_size": size, "setup_s": round(setup_s, 1), "rounds": rounds,
        "median_all_ms": round(statistics.median(complete), 1) if complete else None,
    }  # fmt: skip
