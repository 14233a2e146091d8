"""The points every relay run measures, and the loop that measures them (Courtyard and Synapse).

A run warms up at concurrency 16, then measures each ``Point``: the closed loop at each of the
profile's concurrencies and the open loop at each offered rate, ``profile.repeats`` times each.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bench.driver import Bounds, Send, closed_loop, open_loop
from bench.measure import repeated
from bench.profile import Profile
from bench.rawhttp import Pool
from bench.recorder import Recorder

# A driver loop: closed (int concurrency) or open (float rate), bound to its send later.
Loop = Callable[[Send, Any, Bounds, Recorder], Awaitable[float]]
Attach = Callable[[Recorder], None]
OPEN_LOOP_POOL = 64  # bounds the backlog an overloaded server carries into the next point


@dataclass(frozen=True)
class Point:
    label: dict[str, Any]  # what the results and tables call the point
    loop: Loop
    setting: float  # concurrency or offered rate
    pool_size: int  # keep-alive HTTP connections for its sends
    transport: str = field(default="http")


def standard_points(profile: Profile, transport: str = "http") -> list[Point]:
    """Closed loop at each concurrency, then open loop at each offered rate."""
    extra = {} if transport == "http" else {"transport": transport}
    closed = [
        Point({**extra, "mode": "closed", "concurrency": c}, closed_loop, c, c, transport)
        for c in profile.concurrencies
    ]
    opened = [
        Point({**extra, "mode": "open", "rate": r}, open_loop, r, OPEN_LOOP_POOL, transport)
        for r in profile.rates
    ]
    return closed + opened


async def warm_up(
    port: int, pid: int, sender: Callable[[Pool], Send], attach: Attach, profile: Profile
) -> dict[str, Any]:
    pool = Pool(port, 16)
    try:
        warm = Bounds(60.0, profile.warmup_messages, 3.0)
        driver = partial(closed_loop, sender(pool), 16, warm)
        return await repeated(1, {"mode": "warmup", "concurrency": 16}, pid, driver, attach)
    finally:
        pool.close()


async def measure_points(
    port: int, pid: int, points: list[Point], send_for: Callable[[Point, Pool], Send],
    attach: Attach, profile: Profile, show: Callable[[dict[str, Any]], None],
) -> list[dict[str, Any]]:  # fmt: skip
    """Each point, ``profile.repeats`` times, with a fresh pool of its size."""
    results = []
    for point in points:
        pool = Pool(port, max(point.pool_size, 1))
        try:
            driver = partial(point.loop, send_for(point, pool), point.setting, profile.bounds)
            results.append(await repeated(profile.repeats, point.label, pid, driver, attach))
        finally:
            pool.close()
        show(results[-1])
    return results
