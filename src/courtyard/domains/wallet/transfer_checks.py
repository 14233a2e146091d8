"""The reads a transfer creation needs before its transaction — its key's stored answer, the
recipient, the pair's direct conversation, the sender's PIN state — made for every creation
waiting at once: one read session of four statements, whatever their number.

One creation alone would pay a read session of its own (about 2 ms of CPU on SQLite, most of
it in the driver's thread hops); under load, creations arriving while a read runs share the
next one, as sends share a commit (docs/wallet.md, "Benchmark"). What the facts mean is
decided by the caller, per creation, in the order the unbatched checks keep.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.ids import is_id
from courtyard.db import Database
from courtyard.db.pg_bulk import one_of
from courtyard.domains.accounts import existing_users
from courtyard.domains.messaging import Timeline
from courtyard.domains.wallet.flow_models import WalletIdempotency
from courtyard.domains.wallet.idempotency import StoredKey
from courtyard.domains.wallet.pins import PinFacts, Pins

log = logging.getLogger(__name__)

MAX_READ = 512  # creations per read session (bounds the statements' IN lists)


@dataclass(frozen=True, slots=True)
class CreationFacts:
    """What the database says about one creation, read before its transaction."""

    stored: StoredKey | None  # the key's row, if the key is bound
    recipient_exists: bool
    conversation_id: str | None  # the pair's direct conversation
    pin: PinFacts | None  # the sender's PIN state, if a PIN is set


@dataclass(eq=False)
class _Wanted:
    user_id: str
    key: str
    to_user_id: str
    future: asyncio.Future[CreationFacts] = field(repr=False)


class CreationReads:
    """Gathers creations' reads and makes them together, one read session at a time."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: list[_Wanted] = []
        self._reader: asyncio.Task[None] | None = None
        self.reads = 0  # read sessions made (tests)

    async def facts(self, user_id: str, key: str, to_user_id: str) -> CreationFacts:
        """The facts of one creation, from the next read session."""
        future: asyncio.Future[CreationFacts] = asyncio.get_running_loop().create_future()
        self._queue.append(_Wanted(user_id, key, to_user_id, future))
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            wanted, self._queue = self._queue[:MAX_READ], self._queue[MAX_READ:]
            self.reads += 1
            try:
                async with self.db.read() as session:
                    found = await _read(session, wanted)
            except Exception as exc:  # each caller gets the error its own read would raise
                for one in wanted:
                    if not one.future.done():
                        one.future.set_exception(exc)
                continue
            for one, facts in zip(wanted, found, strict=True):
                if not one.future.done():
                    one.future.set_result(facts)


async def _read(session: AsyncSession, wanted: list[_Wanted]) -> list[CreationFacts]:
    dialect = session.get_bind().dialect.name
    rows = await session.execute(
        _STORED[dialect],
        {"users": sorted({w.user_id for w in wanted}), "keys": sorted({w.key for w in wanted})},
    )
    # The statement matches users and keys separately (one text for any batch); keep pairs.
    stored = {(r[0], r[1]): StoredKey(r[2], r[3], r[4], r[5], r[6]) for r in rows}
    recipients = await existing_users(
        session, {w.to_user_id for w in wanted if is_id(w.to_user_id)}
    )
    pairs = await Timeline.direct_conversations(
        session, {(w.user_id, w.to_user_id) for w in wanted}
    )
    pins = await Pins.facts_of(session, {w.user_id for w in wanted})
    return [
        CreationFacts(
            stored=stored.get((w.user_id, w.key)),
            recipient_exists=w.to_user_id in recipients,
            conversation_id=pairs.get((w.user_id, w.to_user_id)),
            pin=pins.get(w.user_id),
        )
        for w in wanted
    ]


_keys = cast(Table, WalletIdempotency.__table__)
_STORED = {  # built once: building a statement costs more than running it
    dialect: select(
        _keys.c.user_id, _keys.c.idempotency_key, _keys.c.operation, _keys.c.request_hash,
        _keys.c.outcome, _keys.c.response, _keys.c.created_at,
    ).where(
        one_of(_keys.c.user_id, "users", dialect), one_of(_keys.c.idempotency_key, "keys", dialect)
    )
    for dialect in ("postgresql", "sqlite")
}  # fmt: skip
