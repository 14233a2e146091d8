"""Group commit for transfer creations: every transfer that arrives while a commit runs lands
in the next one (docs/wallet.md, "Benchmark: idempotent transfers per second").

One transfer alone is a transaction of about twenty statements; a batch of N is one
transaction of the same fixed number of statements with N rows each (``TransferBatch``),
taking the locks one transfer would take, in the global order, so it queues behind other
writers instead of deadlocking. Each transfer gets the answer it would get alone. If the
batch transaction fails as a whole (a transfer id committed meanwhile on another node, a
deadlock victim, a lost connection), every transfer in it is retried alone through
``one_by_one``, the unbatched path, which has its own replay handling: nothing is lost and
nothing applied twice. Nothing is answered before ``COMMIT`` returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from courtyard.core.clock import Clock
from courtyard.db import Database
from courtyard.domains.messaging import SendRate
from courtyard.domains.wallet.idempotency import Answer
from courtyard.domains.wallet.transfer_batch import BatchTerms, Outcome, TransferBatch
from courtyard.domains.wallet.transfer_shapes import PendingTransfer
from courtyard.streams import StreamStore

log = logging.getLogger(__name__)

MAX_BATCH = 256
# Under load, a batch waits this long for company when the recent rate says more transfers
# are due within it; a lone sender never waits.
GATHER_SECONDS = 0.002
OneByOne = Callable[[PendingTransfer], Awaitable[Answer]]


class TransferQueue:
    """Collects checked transfer creations and commits them in batches, one at a time."""

    def __init__(
        self,
        db: Database,
        streams: StreamStore,
        clock: Clock,
        terms: BatchTerms,
        one_by_one: OneByOne,
    ) -> None:
        self.db = db
        self.streams = streams
        self.clock = clock
        self.terms = terms
        self.one_by_one = one_by_one
        self._queue: list[PendingTransfer] = []
        self._drainer: asyncio.Task[None] | None = None
        self._rate = SendRate()
        self.batches = 0  # batches committed or tried (tests, metrics)
        # Called with each batch's size (the node's metrics).
        self.on_batch: Callable[[int], None] | None = None

    async def submit(self, pending: PendingTransfer) -> Answer:
        """Queue one checked transfer and wait for the commit that carries it."""
        self._queue.append(pending)
        self._rate.count()
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        # A caller that gives up (a dropped request or socket) does not cancel the commit:
        # the transfer may still land, and a retry with the same key gets it as a replay.
        return await asyncio.shield(pending.future)

    async def close(self) -> None:
        """Wait until every queued transfer has its answer (shutdown)."""
        if self._drainer is not None:
            await asyncio.shield(self._drainer)

    async def _drain(self) -> None:
        while self._queue:
            if len(self._queue) < MAX_BATCH and self._rate.per_second() * GATHER_SECONDS >= 1:
                await asyncio.sleep(GATHER_SECONDS)
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                await self._commit(batch)
            except Exception as exc:  # never leave a caller waiting forever
                log.exception("transfer batch failed")
                for pending in batch:
                    _settle(pending, exc)

    async def _commit(self, batch: list[PendingTransfer]) -> None:
        self.batches += 1
        if self.on_batch is not None:
            self.on_batch(len(batch))
        try:
            outcomes = await self._commit_batch(batch)
        except Exception as exc:
            # Rolled back as a whole: each transfer alone, with its own replay handling.
            log.info("transfer batch of %d retried one by one: %s", len(batch), type(exc).__name__)
            for pending in batch:
                try:
                    _settle(pending, await self.one_by_one(pending))
                except Exception as error:
                    _settle(pending, error)
            return
        for pending, outcome in zip(batch, outcomes, strict=True):
            _settle(pending, outcome)

    async def _commit_batch(self, batch: list[PendingTransfer]) -> list[Outcome]:
        write = TransferBatch(batch, self.clock.now(), self.terms)
        await self.db.write_sync(write)
        answers = write.answers()
        try:
            for copies, type_, content in write.notices:  # committed: tell the readers
                await self.streams.publish(copies, type_, content, write.now)
        except Exception:  # a lost hint must not undo a committed fact; readers recheck
            log.exception("transfer batch hints failed")
        return answers


def _settle(pending: PendingTransfer, outcome: Outcome | BaseException) -> None:
    if pending.future.done():
        return
    if isinstance(outcome, BaseException):
        pending.future.set_exception(outcome)
    else:
        pending.future.set_result(outcome)
