"""The conversation timeline: append an event at the next ``seq`` and fan it out.

Every write to a conversation starts by taking the next ``seq`` (an ``UPDATE`` of the
conversation row), so the row lock is always the first lock a conversation write takes and
concurrent writers queue instead of deadlocking; member rows and stream heads come after.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.clock import Clock
from courtyard.core.ids import new_id
from courtyard.db import Tx
from courtyard.db.pg_bulk import one_of
from courtyard.domains.messaging.errors import ConversationNotFound
from courtyard.domains.messaging.models import Conversation, DirectPair, Member, TimelineEvent
from courtyard.streams import StreamStore

CONVERSATION_EVENT = "conversation.event"
_DIRECT_PAIRS = {  # built once: building a statement costs more than running it
    dialect: select(DirectPair.pair_key, DirectPair.conversation_id).where(
        one_of(DirectPair.pair_key, "keys", dialect)
    )
    for dialect in ("postgresql", "sqlite")
}


def event_to_wire(event: TimelineEvent) -> dict[str, Any]:
    return columns_to_wire(_columns(event))


def columns_to_wire(columns: Mapping[str, Any]) -> dict[str, Any]:
    """A timeline event as members receive it, from its row's columns."""
    return {
        "conversation_id": columns["conversation_id"],
        "seq": columns["seq"],
        "event_id": columns["event_id"],
        "type": columns["type"],
        "sender_user_id": columns["sender_user_id"],
        "sender_device_id": columns["sender_device_id"],
        "content": columns["content"],
        "recalled": columns["recalled"],
        "created_at": columns["created_at"].isoformat().replace("+00:00", "Z"),
    }


class Timeline:
    def __init__(self, streams: StreamStore, clock: Clock) -> None:
        self.streams = streams
        self.clock = clock

    async def lock(self, tx: Tx, conversation_id: str) -> Conversation:
        """Lock the conversation row for this transaction (the first lock any write takes)."""
        conversation = await tx.session.scalar(
            select(Conversation)
            .where(Conversation.conversation_id == conversation_id)
            .with_for_update()
        )
        if conversation is None:
            raise ConversationNotFound()
        return conversation

    async def lock_next_seq(self, tx: Tx, conversation_id: str) -> int:
        """Lock the conversation and reserve its next ``seq`` (undone if the write fails)."""
        seq = await tx.session.scalar(
            update(Conversation)
            .where(Conversation.conversation_id == conversation_id)
            .values(last_seq=Conversation.last_seq + 1)
            .returning(Conversation.last_seq)
        )
        if seq is None:
            raise ConversationNotFound()
        return int(seq)

    async def write(
        self,
        tx: Tx,
        conversation_id: str,
        seq: int,
        type_: str,
        sender: tuple[str, str | None],
        content: dict[str, Any],
        audience: Iterable[str],
    ) -> TimelineEvent:
        """Store the event at ``seq`` and append it to each audience member's stream."""
        event = TimelineEvent(
            conversation_id=conversation_id,
            seq=seq,
            event_id=new_id(),
            type=type_,
            sender_user_id=sender[0],
            sender_device_id=sender[1],
            content=content,
            recalled=False,
            created_at=self.clock.now(),
        )
        await tx.session.execute(insert(TimelineEvent).values(**_columns(event)))
        await self.streams.append_many(
            tx, audience, CONVERSATION_EVENT, event_to_wire(event), event_id=event.event_id
        )
        return event

    async def rewrite(self, tx: Tx, event: TimelineEvent) -> None:
        """Make every member inbox copy of ``event`` match the timeline row again."""
        await self.streams.rewrite(tx, event.event_id, CONVERSATION_EVENT, event_to_wire(event))

    async def write_card(
        self,
        tx: Tx,
        conversation_id: str,
        type_: str,
        sender: tuple[str, str | None],
        content: dict[str, Any],
    ) -> TimelineEvent:
        """Append a server-written event (a wallet card) for the joined members. It locks the
        conversation row, so it comes after a wallet transaction's account locks."""
        seq = await self.lock_next_seq(tx, conversation_id)
        joined = await self.members(tx, conversation_id, joined_only=True)
        return await self.write(
            tx, conversation_id, seq, type_, sender, content, [m.user_id for m in joined]
        )

    @staticmethod
    async def direct_conversation(session: AsyncSession, user_a: str, user_b: str) -> str | None:
        """The id of the direct conversation between two users, if they have one."""
        pair = await session.get(DirectPair, ":".join(sorted([user_a, user_b])))
        return None if pair is None else pair.conversation_id

    @staticmethod
    async def direct_conversations(
        session: AsyncSession, pairs: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], str]:
        """``direct_conversation`` for many pairs in one statement: each given pair (as
        given) that has a direct conversation, and its id."""
        wanted = {pair: ":".join(sorted(pair)) for pair in pairs}
        if not wanted:
            return {}
        statement = _DIRECT_PAIRS[session.get_bind().dialect.name]
        rows = await session.execute(statement, {"keys": sorted(set(wanted.values()))})
        found = {row[0]: row[1] for row in rows}
        return {pair: found[key] for pair, key in wanted.items() if key in found}

    @staticmethod
    async def joined_kind(session: AsyncSession, conversation_id: str, user_id: str) -> str | None:
        """The conversation's kind (``direct``/``group``) if ``user_id`` is a joined member
        of it, else ``None`` (so callers answer "not found" to outsiders)."""
        row = (
            await session.execute(
                select(Conversation.kind)
                .join(Member, Member.conversation_id == Conversation.conversation_id)
                .where(
                    Conversation.conversation_id == conversation_id,
                    Member.user_id == user_id,
                    Member.state == "joined",
                )
            )
        ).one_or_none()
        return None if row is None else str(row[0])

    @staticmethod
    async def is_own_encrypted(
        session: AsyncSession, conversation_id: str, seq: int, user_id: str
    ) -> bool:
        """Whether ``(conversation_id, seq)`` is an ``m.encrypted`` message sent by
        ``user_id`` (a wallet memo's reference)."""
        event = await session.scalar(
            select(TimelineEvent).where(
                TimelineEvent.conversation_id == conversation_id, TimelineEvent.seq == seq
            )
        )
        return event is not None and event.type == "m.encrypted" and event.sender_user_id == user_id

    @staticmethod
    async def members(tx: Tx, conversation_id: str, *, joined_only: bool) -> list[Member]:
        query = select(Member).where(Member.conversation_id == conversation_id)
        if joined_only:
            query = query.where(Member.state == "joined")
        return list(await tx.session.scalars(query.order_by(Member.updated_at, Member.user_id)))


def _columns(event: TimelineEvent) -> dict[str, Any]:
    return {column.key: getattr(event, column.key) for column in TimelineEvent.__table__.columns}
