"""Append to and read from per-user streams, in the caller's transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.clock import Clock
from courtyard.core.ids import new_id
from courtyard.db import Tx
from courtyard.streams.bus import Bus
from courtyard.streams.events import StreamEvent, StreamHead, wire_event


class StreamStore:
    """Writes facts' stream rows in the fact's own transaction and hints the bus after commit."""

    def __init__(self, bus: Bus, clock: Clock) -> None:
        self.bus = bus
        self.clock = clock

    async def create_stream(self, tx: Tx, user_id: str) -> None:
        """Create the head row for a new user's stream, at position 0."""
        await tx.session.execute(insert(StreamHead).values(user_id=user_id, position=0))

    async def append(self, tx: Tx, user_id: str, type_: str, content: dict[str, Any]) -> int:
        """Append one event to ``user_id``'s stream and return its position.

        The head row's update takes a row lock held until commit, so positions for one user
        commit in order and a reader that has seen N never misses a later commit below N.
        """
        position = (
            await tx.session.execute(
                update(StreamHead)
                .where(StreamHead.user_id == user_id)
                .values(position=StreamHead.position + 1)
                .returning(StreamHead.position)
            )
        ).scalar_one()
        event_id, now = new_id(), self.clock.now()
        await tx.session.execute(
            insert(StreamEvent).values(
                user_id=user_id,
                position=position,
                event_id=event_id,
                type=type_,
                content=content,
                created_at=now,
            )
        )
        self.notify_after_commit(tx, [(user_id, position, event_id)], type_, content, now)
        return position

    async def append_many(
        self,
        tx: Tx,
        user_ids: Iterable[str],
        type_: str,
        content: dict[str, Any],
        *,
        event_id: str | None = None,
    ) -> dict[str, int]:
        """Append the same event to several users' streams (fan-out) in two statements.

        Head rows are locked in user-id order first, so two fan-outs to overlapping sets of
        users (on any number of nodes) cannot deadlock. With ``event_id`` every copy carries
        that id (so ``rewrite`` can find them all later). Returns each user's new position.
        """
        users = sorted(set(user_ids))
        if not users:
            return {}
        await tx.session.execute(
            select(StreamHead.user_id)
            .where(StreamHead.user_id.in_(users))
            .order_by(StreamHead.user_id)
            .with_for_update()
        )
        rows = await tx.session.execute(
            update(StreamHead)
            .where(StreamHead.user_id.in_(users))
            .values(position=StreamHead.position + 1)
            .returning(StreamHead.user_id, StreamHead.position)
        )
        positions = {row.user_id: row.position for row in rows}
        now = self.clock.now()
        copies = [(user, position, event_id or new_id()) for user, position in positions.items()]
        await tx.session.execute(
            insert(StreamEvent),
            [
                {
                    "user_id": user_id,
                    "position": position,
                    "event_id": copy_id,
                    "type": type_,
                    "content": content,
                    "created_at": now,
                }
                for user_id, position, copy_id in copies
            ],
        )
        self.notify_after_commit(tx, copies, type_, content, now)
        return positions

    def notify_after_commit(
        self,
        tx: Tx,
        copies: list[tuple[str, int, str]],
        type_: str,
        content: dict[str, Any],
        created_at: dt.datetime,
    ) -> None:
        """Once ``tx`` commits, hint each ``(user, position, event_id)`` with its event."""

        async def notify() -> None:
            await self.publish(copies, type_, content, created_at)

        tx.after_commit(notify)

    async def publish(
        self,
        copies: list[tuple[str, int, str]],
        type_: str,
        content: dict[str, Any],
        created_at: dt.datetime,
    ) -> None:
        """Hint each committed ``(user, position, event_id)`` copy of an event, with it."""
        for user_id, position, event_id in copies:
            event = wire_event(position, event_id, type_, content, created_at)
            await self.bus.publish(user_id, position, event)

    @staticmethod
    async def rewrite(tx: Tx, event_id: str, type_: str, content: dict[str, Any]) -> int:
        """Replace the content of every stream copy of ``event_id`` (e.g. a recalled message's
        ciphertext); returns how many copies were rewritten. Positions do not change."""
        result = await tx.session.execute(
            update(StreamEvent)
            .where(StreamEvent.event_id == event_id, StreamEvent.type == type_)
            .values(content=content)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    @staticmethod
    async def read_since(
        session: AsyncSession, user_id: str, since: int, limit: int = 100
    ) -> list[StreamEvent]:
        """Events after position ``since``, oldest first, at most ``limit``."""
        rows = await session.scalars(
            select(StreamEvent)
            .where(StreamEvent.user_id == user_id, StreamEvent.position > since)
            .order_by(StreamEvent.position)
            .limit(limit)
        )
        return list(rows)

    @staticmethod
    async def head(session: AsyncSession, user_id: str) -> int:
        """The newest position in ``user_id``'s stream (0 when empty)."""
        value = await session.scalar(
            select(StreamHead.position).where(StreamHead.user_id == user_id)
        )
        return int(value or 0)

    @staticmethod
    async def drop_stream(tx: Tx, user_id: str) -> None:
        """Delete a user's whole stream (account erasure)."""
        await tx.session.execute(delete(StreamEvent).where(StreamEvent.user_id == user_id))
        await tx.session.execute(delete(StreamHead).where(StreamHead.user_id == user_id))
