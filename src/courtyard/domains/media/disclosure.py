"""Reads for the lawful-request desk's ``content`` category (docs/legal-desk.md): the blobs a
user uploaded in a time window, and a blob's stored bytes (ciphertext the client encrypted)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.domains.media.models import Media
from courtyard.domains.media.store import BlobStore


async def get_user_media(
    session: AsyncSession, user_id: str, start: dt.datetime | None, end: dt.datetime | None
) -> list[dict[str, Any]]:
    """The media rows ``user_id`` uploaded in ``[start, end)``, oldest first."""
    statement = select(Media).where(Media.user_id == user_id)
    if start is not None:
        statement = statement.where(Media.created_at >= start)
    if end is not None:
        statement = statement.where(Media.created_at < end)
    rows = await session.scalars(statement.order_by(Media.created_at, Media.media_id))
    return [
        {
            "media_id": m.media_id,
            "size": m.size,
            "sha256": m.sha256,
            "content_type": m.content_type,
            "created_at": m.created_at,
        }
        for m in rows
    ]


async def read_stored_blob(store: BlobStore, media_id: str) -> bytes | None:
    """The blob's bytes exactly as stored, or None if the store has none."""
    size = await store.size(media_id)
    if size is None:
        return None
    return b"".join([chunk async for chunk in store.read(media_id, 0, size)])
