"""One measured point: server CPU and peak RSS around a load run; repeats reduced to medians."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.procs import cpu_seconds, loop_cpu_seconds, memory_kib, reset_peak_rss
from bench.recorder import Recorder

Run = Callable[[Recorder], Awaitable[float]]


async def point(pid: int, run: Run, attach: Callable[[Recorder], None]) -> dict[str, Any]:
    """Run once against server ``pid``; ``attach`` points the receivers at the new recorder."""
    await settle(pid)
    recorder = Recorder()
    attach(recorder)
    reset_peak_rss(pid)
    cpu_before, client_before = cpu_seconds(pid), time.process_time()
    loop_before = loop_cpu_seconds(pid)
    started = await run(recorder)
    cpu_ms = (cpu_seconds(pid) - cpu_before) * 1000
    loop_ms = (loop_cpu_seconds(pid) - loop_before) * 1000
    client_ms = (time.process_time() - client_before) * 1000
    result = recorder.summary(started)
    sent = max(1, result["sent"])
    result["server_cpu_ms_per_msg"] = round(cpu_ms / sent, 3)
    # Where the server's CPU went: its main thread, and all its other threads.
    # (/proc counts in 10 ms ticks: a difference of two counts can come out just below zero.)
    result["server_loop_cpu_ms_per_msg"] = round(min(loop_ms, cpu_ms) / sent, 3)
    result["server_threads_cpu_ms_per_msg"] = round(max(0.0, cpu_ms - loop_ms) / sent, 3)
    result["client_cpu_ms_per_msg"] = round(client_ms / sent, 3)
    result["server_peak_rss_mib"] = round(memory_kib(pid)["VmHWM"] / 1024, 1)
    return result


async def settle(pid: int, limit_s: float = 30.0) -> None:
    """Wait until the server is idle (under 10 % of a core), so a backlog stays in its point."""
    deadline = time.perf_counter() + limit_s
    while time.perf_counter() < deadline:
        before = cpu_seconds(pid)
        await asyncio.sleep(0.5)
        if cpu_seconds(pid) - before < 0.05:
            return


async def repeated(
    times: int, label: dict[str, Any], pid: int, run: Run, attach: Callable[[Recorder], None]
) -> dict[str, Any]:
    """``times`` runs of one point; the numeric fields are the medians, ``runs`` keeps each."""
    runs = [await point(pid, run, attach) for _ in range(times)]
    merged: dict[str, Any] = dict(label)
    for key, first in runs[0].items():
        values = [r[key] for r in runs if r[key] is not None]
        merged[key] = round(statistics.median(values), 3) if values else first
    merged["runs"] = runs
    return merged
