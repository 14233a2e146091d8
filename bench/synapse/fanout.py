"""Fan-out on Synapse: bench/fanout.py's shape, one message to a full room of syncing users."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from bench.fanout import ROUND_TIMEOUT_S, Arrivals, round_figures, summary
from bench.measure import settle
from bench.procs import cpu_seconds
from bench.profile import Profile
from bench.rawhttp import Pool
from bench.synapse.client import ENCRYPTED, group, megolm_content, register_many, room_path
from bench.synapse.server import Running
from bench.synapse.sync import SyncSet

SETUP_TIMEOUT_S = 600


async def run_synapse_fanout(running: Running, profile: Profile) -> dict[str, Any]:
    """``profile.group_size`` users in one room; each round, the owner sends one message."""
    served, size = running.served, profile.group_size
    started = time.perf_counter()
    arrivals, syncs = Arrivals(size), SyncSet(served.port)
    async with httpx.AsyncClient(
        base_url=served.url, timeout=SETUP_TIMEOUT_S, trust_env=False
    ) as http:
        users = await register_many(http, running.homeserver.shared_secret, "g", size)
        room = await group(http, users[0], users[1:])
        setup_s = time.perf_counter() - started
        print(f"  synapse fan-out: {size} users registered and joined in {setup_s:.1f} s")
        await syncs.start(http, users, arrivals.on_event)
    await asyncio.sleep(2.0)
    owner, pool = users[0], Pool(served.port, 1)
    body, path, rounds = json.dumps(megolm_content(owner)).encode(), room_path(room, ""), []
    try:
        for n in range(profile.fanout_rounds):
            await settle(served.pid)  # the joins' backlog is not part of the fan-out
            cpu_before, sent_at = cpu_seconds(served.pid), time.perf_counter()
            status, data = await pool.request(
                "PUT", f"{path}send/{ENCRYPTED}/fan{n}", body, owner.token
            )
            answered = time.perf_counter()
            event_id = json.loads(data)["event_id"] if status == 200 else ""
            try:
                async with asyncio.timeout(ROUND_TIMEOUT_S):
                    await arrivals.complete[event_id].wait()
            except TimeoutError:
                pass
            rounds.append(round_figures(arrivals.times[event_id], size, sent_at, answered))
            rounds[-1]["server_cpu_ms"] = round((cpu_seconds(served.pid) - cpu_before) * 1000, 1)
            print(f"  synapse fan-out round {n}: {rounds[-1]}", flush=True)
            await asyncio.sleep(1.0)
    finally:
        pool.close()
        await syncs.close()
    return summary(size, setup_s, rounds)
