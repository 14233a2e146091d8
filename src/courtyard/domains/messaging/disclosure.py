"""Reads for the lawful-request desk's ``message_metadata`` and ``content`` categories
(docs/legal-desk.md): the conversations a user is in or sent to, their members, and the
timeline events in a time window that the user sent or that reached a conversation while
they were a member. Metadata never includes an envelope; content is the envelope exactly as
stored (Megolm ciphertext the server cannot read). Runs in the caller's session."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.domains.messaging.models import (
    Conversation,
    Member,
    TimelineEvent,
    UserConversation,
)

ENCRYPTED = "m.encrypted"


@dataclass(frozen=True, slots=True)
class _Scope:
    since: dict[str, int]  # conversation → first position the user may read
    events: list[TimelineEvent]


def _within(
    statement: Select[Any], start: dt.datetime | None, end: dt.datetime | None
) -> Select[Any]:
    if start is not None:
        statement = statement.where(TimelineEvent.created_at >= start)
    if end is not None:
        statement = statement.where(TimelineEvent.created_at < end)
    return statement


async def _scope(
    session: AsyncSession, user_id: str, start: dt.datetime | None, end: dt.datetime | None
) -> _Scope:
    conversation_ids = list(
        await session.scalars(
            select(UserConversation.conversation_id).where(UserConversation.user_id == user_id)
        )
    )
    since: dict[str, int] = {}
    if conversation_ids:
        rows = await session.execute(
            select(Member.conversation_id, Member.since_seq).where(
                Member.conversation_id.in_(conversation_ids), Member.user_id == user_id
            )
        )
        since = {row.conversation_id: row.since_seq for row in rows}
    found: dict[tuple[str, int], TimelineEvent] = {}
    # The events the user sent, wherever (also where they are no longer a member)…
    sent = _within(select(TimelineEvent).where(TimelineEvent.sender_user_id == user_id), start, end)
    for event in await session.scalars(sent):
        found[(event.conversation_id, event.seq)] = event
    # …and what reached each conversation they are in, from the position they joined at.
    for conversation_id, first in sorted(since.items()):
        received = select(TimelineEvent).where(
            TimelineEvent.conversation_id == conversation_id, TimelineEvent.seq >= first
        )
        for event in await session.scalars(_within(received, start, end)):
            found[(event.conversation_id, event.seq)] = event
    events = sorted(found.values(), key=lambda e: (e.created_at, e.conversation_id, e.seq))
    return _Scope(since, events)


def _ciphertext_size(content: dict[str, Any]) -> int | None:
    """The Megolm ciphertext's size in bytes (unpadded base64 → bytes)."""
    text = content.get("ciphertext")
    if not isinstance(text, str):
        return None
    return len(text.rstrip("=")) * 3 // 4


async def get_message_metadata(
    session: AsyncSession, user_id: str, start: dt.datetime | None, end: dt.datetime | None
) -> dict[str, Any]:
    """Conversations, their members and the envelope metadata of the user's events in
    ``[start, end)``: ids, times, sender device, sizes — never content."""
    scope = await _scope(session, user_id, start, end)
    conversation_ids = sorted(set(scope.since) | {e.conversation_id for e in scope.events})
    conversations, members = [], []
    if conversation_ids:
        conversations = [
            {
                "conversation_id": c.conversation_id,
                "kind": c.kind,
                "name": c.name,
                "created_by": c.created_by,
                "created_at": c.created_at,
            }
            for c in await session.scalars(
                select(Conversation)
                .where(Conversation.conversation_id.in_(conversation_ids))
                .order_by(Conversation.created_at, Conversation.conversation_id)
            )
        ]
        members = [
            {
                "conversation_id": m.conversation_id,
                "user_id": m.user_id,
                "state": m.state,
                "role": m.role,
                "since_seq": m.since_seq,
                "updated_at": m.updated_at,
            }
            for m in await session.scalars(
                select(Member)
                .where(Member.conversation_id.in_(conversation_ids))
                .order_by(Member.conversation_id, Member.user_id)
            )
        ]
    events = [
        {
            "event_id": e.event_id,
            "conversation_id": e.conversation_id,
            "seq": e.seq,
            "type": e.type,
            "sender_user_id": e.sender_user_id,
            "sender_device_id": e.sender_device_id,
            "created_at": e.created_at,
            "ciphertext_bytes": _ciphertext_size(e.content) if e.type == ENCRYPTED else None,
            "recalled": e.recalled,
        }
        for e in scope.events
    ]
    return {"conversations": conversations, "members": members, "events": events}


async def get_message_envelopes(
    session: AsyncSession, user_id: str, start: dt.datetime | None, end: dt.datetime | None
) -> list[dict[str, Any]]:
    """The encrypted events of the same scope with their envelopes exactly as stored."""
    scope = await _scope(session, user_id, start, end)
    return [
        {
            "event_id": e.event_id,
            "conversation_id": e.conversation_id,
            "seq": e.seq,
            "sender_user_id": e.sender_user_id,
            "sender_device_id": e.sender_device_id,
            "created_at": e.created_at,
            "recalled": e.recalled,
            "envelope": e.content,
        }
        for e in scope.events
        if e.type == ENCRYPTED
    ]
