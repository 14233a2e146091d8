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
            times = sorted(arrivals.times[event_id])
            middle = statistics.median(times) if times else None
            rounds.append({
                "devices_reached": len(times),
                "send_answered_ms": round((answered - sent_at) * 1000, 1),
                "first_ms": round((times[0] - sent_at) * 1000, 1) if times else None,
                "median_ms": round((middle - sent_at) * 1000, 1) if middle else None,
                "all_ms": round((times[-1] - sent_at) * 1000, 1) if len(times) == size else None,
                "server_cpu_ms": round((cpu_seconds(served.pid) - cpu_before) * 1000, 1),
            })  # fmt: skip
            print(f"  fan-out round {n}: {rounds[-1]}", flush=True)
            await asyncio.sleep(1.0)
    finally:
        pool.close()
        await sockets.close()
    complete = [r["all_ms"] for r in rounds if r["all_ms"] is not None]
    return {
        "group_size": size, "setup_s": round(setup_s, 1), "rounds": rounds,
        "median_all_ms": round(statistics.median(complete), 1) if complete else None,
    }  # fmt: skip
