"""Run small idempotent jobs on a timer; safe on many nodes at once because each job is."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: float
    run: Callable[[], Awaitable[object]]


class PeriodicJobs:
    """Starts one task per job; a failing run is logged and retried at the next tick."""

    def __init__(self, jobs: list[Job]) -> None:
        self.jobs = jobs
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._loop(job), name=f"job:{job.name}") for job in self.jobs
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _loop(self, job: Job) -> None:
        while True:
            await asyncio.sleep(job.every_seconds)
            try:
                result = await job.run()
                log.debug("job ran", extra={"job": job.name, "result": result})
            except Exception:
                log.exception("job failed", extra={"job": job.name})
