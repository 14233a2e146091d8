"""The client loop shared by every workload: closed loop at a concurrency, or open loop at a rate.

A ``Send`` starts message ``i`` and returns its id once the server accepted it; receivers
record deliveries in the same ``Recorder``. The send's start time is what latency counts
from: for the open loop that is the scheduled time, so a client falling behind its clock
shows up as latency instead of silently lowering the load (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bench.recorder import Recorder

Send = Callable[[int], Awaitable[str]]
DRAIN_QUIET_S = 0.5


@dataclass(frozen=True)
class Bounds:
    """A point stops after ``duration_s`` seconds or ``max_messages`` sends, whichever is first."""

    duration_s: float
    max_messages: int
    drain_s: float = 5.0


async def _one(send: Send, index: int, started: float, recorder: Recorder) -> None:
    try:
        recorder.on_sent(await send(index), started)
    except Exception:  # a failed send is counted, not fatal to the point
        recorder.errors += 1


async def closed_loop(send: Send, concurrency: int, bounds: Bounds, recorder: Recorder) -> float:
    """``concurrency`` workers each send, await the answer, and send again; returns start time."""
    counter = iter(range(bounds.max_messages))
    start = time.perf_counter()
    deadline = start + bounds.duration_s

    async def worker() -> None:
        for index in counter:
            if time.perf_counter() >= deadline:
                return
            await _one(send, index, time.perf_counter(), recorder)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await drain(recorder, bounds.drain_s)
    return start


async def open_loop(send: Send, rate: float, bounds: Bounds, recorder: Recorder) -> float:
    """Start send ``i`` at ``start + i / rate`` whatever the answers do; returns start time."""
    count = min(bounds.max_messages, int(rate * bounds.duration_s))
    tasks: set[asyncio.Task[None]] = set()
    start = time.perf_counter()
    for index in range(count):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(_one(send, index, due, recorder))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(set(tasks), timeout=bounds.drain_s + bounds.duration_s)
    for task in list(tasks):  # still unanswered after the bound: give up on them
        task.cancel()
        recorder.errors += 1
    await drain(recorder, bounds.drain_s)
    return start


async def drain(recorder: Recorder, limit_s: float) -> None:
    """Wait until every sent message arrived, or nothing arrived for a while, or ``limit_s``."""
    deadline = time.perf_counter() + limit_s
    last_count, last_change = -1, time.perf_counter()
    while time.perf_counter() < deadline:
        count = recorder.delivered()
        if count == len(recorder.sent):
            return
        if count != last_count:
            last_count, last_change = count, time.perf_counter()
        elif time.perf_counter() - last_change > DRAIN_QUIET_S * 4:
            return
        await asyncio.sleep(0.02)
