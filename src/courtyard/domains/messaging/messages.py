"""Messages in a conversation: send (Megolm only), history, recall, read receipts, typing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from courtyard.core.clock import Clock
from courtyard.core.wire import first_problem
from courtyard.db import Database, Tx
from courtyard.domains.accounts import Identity
from courtyard.domains.messaging.errors import (
    ConversationNotFound,
    MessageNotFound,
    NotAMember,
    NotMegolmEncrypted,
    RecallExpired,
)
from courtyard.domains.messaging.models import Member, MessageTxn, TimelineEvent
from courtyard.domains.messaging.schemas import EventOut, HistoryOut, MegolmEnvelope, SentOut
from courtyard.domains.messaging.sending import PendingSend, SendQueue
from courtyard.domains.messaging.timeline import Timeline, event_to_wire
from courtyard.streams import StreamStore

RECALL_WINDOW = dt.timedelta(minutes=2)
READ_EVENT = "conversation.read"
TYPING_EVENT = "conversation.typing"


class MessagesService:
    def __init__(
        self, db: Database, timeline: Timeline, streams: StreamStore, clock: Clock
    ) -> None:
        self.db = db
        self.timeline = timeline
        self.streams = streams
        self.clock = clock
        self.queue = SendQueue(db, streams, clock, self._send_alone)

    async def do_send(
        self, identity: Identity, conversation_id: str, txn_id: str, content: dict[str, Any]
    ) -> SentOut:
        """Append a Megolm-encrypted message for the joined members; once per ``txn_id``.

        Sends are committed in batches (``sending.SendQueue``); each still gets its own answer.
        """
        envelope = _check_megolm(content, identity)
        return await self.queue.send(identity, conversation_id, txn_id, envelope)

    async def _send_alone(self, pending: PendingSend) -> SentOut:
        """One send in its own transaction: what a batch falls back to when it fails."""
        identity, conversation_id = pending.identity, pending.conversation_id
        txn_id, envelope = pending.txn_id, pending.envelope
        async with self.db.read() as session:
            done = await session.get(MessageTxn, (conversation_id, identity.device_id, txn_id))
            if done is not None:
                return await self._replayed(session, done)
        try:
            async with self.db.transaction() as tx:
                await self.timeline.lock(tx, conversation_id)
                joined = await self._joined_or_refuse(tx, identity, conversation_id)
                seq = await self.timeline.lock_next_seq(tx, conversation_id)
                event = await self.timeline.write(
                    tx, conversation_id, seq, "m.encrypted", (identity.user_id, identity.device_id),
                    envelope, [m.user_id for m in joined],
                )  # fmt: skip
                tx.session.add(
                    MessageTxn(
                        conversation_id=conversation_id, sender_device_id=identity.device_id,
                        txn_id=txn_id, seq=seq, created_at=self.clock.now(),
                    )
                )  # fmt: skip
        except IntegrityError:
            # The same txn committed concurrently (a retry racing the original).
            async with self.db.read() as session:
                done = await session.get(MessageTxn, (conversation_id, identity.device_id, txn_id))
                assert done is not None
                return await self._replayed(session, done)
        return SentOut(seq=event.seq, event_id=event.event_id, replayed=False)

    async def get_history(
        self,
        identity: Identity,
        conversation_id: str,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> HistoryOut:
        """Events the caller may read (from their join on), oldest first, one page."""
        async with self.db.read() as session:
            member = await session.get(Member, (conversation_id, identity.user_id))
            if member is None:
                raise ConversationNotFound()
            if member.state != "joined":
                raise NotAMember()
            query = select(TimelineEvent).where(
                TimelineEvent.conversation_id == conversation_id,
                TimelineEvent.seq >= member.since_seq,
            )
            if after is not None:
                query = query.where(TimelineEvent.seq > after).order_by(TimelineEvent.seq)
            else:
                if before is not None:
                    query = query.where(TimelineEvent.seq < before)
                query = query.order_by(TimelineEvent.seq.desc())
            rows = list(await session.scalars(query.limit(limit + 1)))
        has_more = len(rows) > limit
        rows = rows[:limit]
        if after is None:
            rows.reverse()
        return HistoryOut(
            events=[EventOut.model_validate(event_to_wire(r)) for r in rows], has_more=has_more
        )

    async def do_recall(self, identity: Identity, conversation_id: str, seq: int) -> None:
        """Recall your own message within 2 minutes: its ciphertext is deleted for everyone."""
        async with self.db.transaction() as tx:
            await self.timeline.lock(tx, conversation_id)
            joined = await self._joined_or_refuse(tx, identity, conversation_id)
            target = await tx.session.get(TimelineEvent, (conversation_id, seq))
            if (
                target is None
                or target.type != "m.encrypted"
                or target.sender_user_id != identity.user_id
                or target.recalled
            ):
                raise MessageNotFound()
            if self.clock.now() - target.created_at > RECALL_WINDOW:
                raise RecallExpired()
            target.content, target.recalled = {}, True
            # The ciphertext also sits in each member's inbox copy: delete it there too.
            await self.timeline.rewrite(tx, target)
            next_seq = await self.timeline.lock_next_seq(tx, conversation_id)
            await self.timeline.write(
                tx, conversation_id, next_seq, "m.recall", (identity.user_id, identity.device_id),
                {"seq": seq, "event_id": target.event_id}, [m.user_id for m in joined],
            )  # fmt: skip

    async def do_mark_read(self, identity: Identity, conversation_id: str, seq: int) -> None:
        """Move the caller's read marker forward and tell the other joined members."""
        async with self.db.transaction() as tx:
            joined = await self._joined_or_refuse(tx, identity, conversation_id)
            result = await tx.session.execute(
                update(Member)
                .where(
                    Member.conversation_id == conversation_id,
                    Member.user_id == identity.user_id,
                    Member.read_seq < seq,
                )
                .values(read_seq=seq)
            )
            if getattr(result, "rowcount", 0):
                await self.streams.append_many(
                    tx, [m.user_id for m in joined], READ_EVENT,
                    {"conversation_id": conversation_id, "user_id": identity.user_id, "seq": seq},
                )  # fmt: skip

    async def do_typing(self, identity: Identity, conversation_id: str, typing: bool) -> None:
        """Tell the other joined members that the caller started or stopped typing."""
        async with self.db.transaction() as tx:
            joined = await self._joined_or_refuse(tx, identity, conversation_id)
            others = [m.user_id for m in joined if m.user_id != identity.user_id]
            await self.streams.append_many(
                tx, others, TYPING_EVENT,
                {"conversation_id": conversation_id, "user_id": identity.user_id, "typing": typing},
            )  # fmt: skip

    async def _joined_or_refuse(
        self, tx: Tx, identity: Identity, conversation_id: str
    ) -> list[Member]:
        joined = await self.timeline.members(tx, conversation_id, joined_only=True)
        if identity.user_id not in {m.user_id for m in joined}:
            member = await tx.session.get(Member, (conversation_id, identity.user_id))
            raise NotAMember() if member is not None else ConversationNotFound()
        return joined

    @staticmethod
    async def _replayed(session: Any, done: MessageTxn) -> SentOut:
        event = await session.get(TimelineEvent, (done.conversation_id, done.seq))
        return SentOut(seq=done.seq, event_id=event.event_id, replayed=True)


def _check_megolm(content: dict[str, Any], identity: Identity) -> dict[str, Any]:
    try:
        envelope = MegolmEnvelope.model_validate(content)
    except ValidationError as exc:
        raise NotMegolmEncrypted(
            f"content is not a Megolm envelope ({first_problem(exc)})"
        ) from None
    if envelope.device_id != identity.device_id:
        raise NotMegolmEncrypted("content.device_id must be the sending device's id")
    return envelope.model_dump()
