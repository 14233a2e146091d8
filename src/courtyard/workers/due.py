"""Poll for due jobs and run them; safe on many nodes at once because claims are exclusive."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from courtyard.domains.jobs import DueJobs

log = logging.getLogger(__name__)


class DueRunner:
    """Calls ``jobs.run_due`` every ``poll_seconds``, or again at once after a full batch
    (a backlog drains without waiting); a failing tick is logged and the loop goes on."""

    def __init__(self, jobs: DueJobs, *, poll_seconds: float = 1.0, batch: int = 50) -> None:
        self.jobs = jobs
        self.poll_seconds = poll_seconds
        self.batch = batch
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="due-jobs")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def tick(self) -> int:
        """Run one batch; returns how many jobs it attempted (0 if the batch failed)."""
        try:
            return await self.jobs.run_due(self.batch)
        except Exception:
            log.exception("due jobs tick failed")
            return 0

    async def _loop(self) -> None:
        while True:
            ran = await self.tick()
            # A full batch means more may be due: go again, yielding to other tasks first.
            await asyncio.sleep(0 if ran >= self.batch else self.poll_seconds)
