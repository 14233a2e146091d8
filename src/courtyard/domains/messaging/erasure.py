"""What erasing an account does to conversations (docs/user-rights.md): the user leaves every
conversation, the pair rows of their direct conversations go, and the server's copy of every
message they sent is deleted, as a recall deletes one, in the timeline and in each member's
stream copy. The events stay as tombstones so every timeline keeps its positions."""

from __future__ import annotations

from sqlalchemy import delete, or_, select

from courtyard.db import Tx
from courtyard.domains.messaging.models import (
    DirectPair,
    Member,
    MessageTxn,
    TimelineEvent,
    UserConversation,
)
from courtyard.domains.messaging.timeline import Timeline


async def erase_messaging_user(
    tx: Tx, timeline: Timeline, user_id: str, device_ids: list[str]
) -> dict[str, int]:
    """Leave, unpair and tombstone, in that order (conversation rows are locked first, as in
    every conversation write); returns rows deleted or changed per table."""
    left = await _leave_everything(tx, timeline, user_id)
    pairs = await tx.session.execute(
        delete(DirectPair).where(
            or_(DirectPair.pair_key.like(f"{user_id}:%"), DirectPair.pair_key.like(f"%:{user_id}"))
        )
    )
    tombstoned = await _tombstone_sent(tx, timeline, user_id)
    txns = 0
    if device_ids:
        result = await tx.session.execute(
            delete(MessageTxn).where(MessageTxn.sender_device_id.in_(device_ids))
        )
        txns = int(getattr(result, "rowcount", 0) or 0)
    return {
        "conversation_members": left,
        "direct_conversations": int(getattr(pairs, "rowcount", 0) or 0),
        "timeline_events": tombstoned,
        "message_txns": txns,
    }


async def _leave_everything(tx: Tx, timeline: Timeline, user_id: str) -> int:
    """Drop every membership (joined or invited) and its index row; tell the remaining members
    with an ``m.member`` ``leave`` event (their devices rotate their Megolm session), and hand
    a group's ownership on as leaving does."""
    memberships = list(
        await tx.session.scalars(
            select(Member.conversation_id)
            .where(Member.user_id == user_id)
            .order_by(Member.conversation_id)
        )
    )
    for conversation_id in memberships:
        await timeline.lock(tx, conversation_id)
        me = await tx.session.get(Member, (conversation_id, user_id))
        if me is None:
            continue
        role = me.role
        await tx.session.delete(me)
        await tx.session.flush()
        await _announce(
            tx, timeline, conversation_id, user_id, {"user_id": user_id, "membership": "leave"}
        )
        if role == "owner":
            await _hand_over(tx, timeline, conversation_id, user_id)
    await tx.session.execute(delete(UserConversation).where(UserConversation.user_id == user_id))
    return len(memberships)


async def _hand_over(tx: Tx, timeline: Timeline, conversation_id: str, user_id: str) -> None:
    joined = await timeline.members(tx, conversation_id, joined_only=True)
    heir = next((m for m in joined if m.role == "admin"), joined[0] if joined else None)
    if heir is None:
        return
    heir.role = "owner"
    await _announce(
        tx, timeline, conversation_id, user_id, {"user_id": heir.user_id, "role": "owner"}, "m.role"
    )


async def _announce(
    tx: Tx,
    timeline: Timeline,
    conversation_id: str,
    user_id: str,
    content: dict[str, object],
    type_: str = "m.member",
) -> None:
    seq = await timeline.lock_next_seq(tx, conversation_id)
    audience = [m.user_id for m in await timeline.members(tx, conversation_id, joined_only=False)]
    await timeline.write(tx, conversation_id, seq, type_, (user_id, None), dict(content), audience)


async def _tombstone_sent(tx: Tx, timeline: Timeline, user_id: str) -> int:
    """Delete the ciphertext of every message the user sent (a scan: erasure is rare and
    ``sender_user_id`` has no index of its own)."""
    sent = await tx.session.scalars(
        select(TimelineEvent).where(
            TimelineEvent.sender_user_id == user_id,
            TimelineEvent.type == "m.encrypted",
            TimelineEvent.recalled.is_(False),
        )
    )
    count = 0
    for event in list(sent):
        event.content, event.recalled = {}, True
        await tx.session.flush()
        await timeline.rewrite(tx, event)
        count += 1
    return count
