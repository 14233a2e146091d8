"""Connections: how many idle devices one server process holds, and what each costs in RSS."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from bench.accounts import bounded, login, register_many
from bench.measure import settle
from bench.procs import Served, cpu_seconds, memory_kib
from bench.profile import Profile
from bench.sockets import SocketSet

LOGIN_CONCURRENCY = 8
RECONNECT_ROUNDS = 5


def _rss_mib(pid: int) -> float:
    return round(memory_kib(pid)["VmRSS"] / 1024, 1)


def _open_fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


async def run_connections(served: Served, profile: Profile, count: int) -> dict[str, Any]:
    """Sign in ``count`` devices (one registration or login each, a few per user, as people
    have), connect them all, let them settle, hold them idle."""
    users = max(1, -(-count // profile.devices_per_user))
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=served.url, timeout=300, trust_env=False) as http:
        accounts = await register_many(http, "c", users)
        extra = [accounts[i % users].username for i in range(count - users)]
        devices = accounts + await bounded((login(http, n) for n in extra), LOGIN_CONCURRENCY)
    signin_s = time.perf_counter() - started
    print(f"  connections: {count} devices signed in in {signin_s:.1f} s", flush=True)
    await asyncio.sleep(1.0)
    rss_before = _rss_mib(served.pid)
    sockets = SocketSet()
    started = time.perf_counter()
    try:
        ignore = lambda _d: lambda _e: None  # noqa: E731 - idle devices record nothing
        await sockets.connect(served.url, devices, ignore, concurrency=128)
        reopened = 0
        for _round in range(RECONNECT_ROUNDS):  # sockets refused with 1013 come back, as clients do
            await settle(served.pid)  # each new socket first reads what it missed
            again = await sockets.reconnect_closed(served.url, devices, ignore)
            reopened += again
            if not again:
                break
        connect_s = time.perf_counter() - started
        await settle(served.pid)
        cpu_before = cpu_seconds(served.pid)
        await asyncio.sleep(profile.idle_window_s)
        idle_cpu = (cpu_seconds(served.pid) - cpu_before) / profile.idle_window_s
        rss_after, fds = _rss_mib(served.pid), _open_fds(served.pid)
        connected = sum(1 for s in sockets.sockets if s.close_code is None)
    finally:
        await sockets.close()
    per_connection_kib = (rss_after - rss_before) * 1024 / max(1, connected)
    result = {
        "requested": count, "connected": connected, "users": users,
        "signin_s": round(signin_s, 1), "signins_per_s": round(count / signin_s, 1),
        "connect_s": round(connect_s, 1), "reconnected": reopened, "rss_before_mib": rss_before,
        "rss_connected_mib": rss_after, "rss_per_connection_kib": round(per_connection_kib, 1),
        "server_open_fds": fds, "idle_window_s": profile.idle_window_s,
        "idle_server_cpu_percent": round(idle_cpu * 100, 1),
    }  # fmt: skip
    print(f"  connections: {result}", flush=True)
    return result
