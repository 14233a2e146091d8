"""What erasing an account does to media: the blobs the user uploaded go, rows in the
transaction and bytes after it commits (as ``MediaService.do_delete`` does one)."""

from __future__ import annotations

import contextlib

from sqlalchemy import delete

from courtyard.db import Tx
from courtyard.domains.media.models import Media
from courtyard.domains.media.store import BlobStore


async def erase_media_user(tx: Tx, store: BlobStore, user_id: str) -> dict[str, int]:
    """Delete the rows of the user's uploads now and their bytes once ``tx`` commits (a crash
    in between leaves unreferenced files, never a row without bytes); rows deleted."""
    gone = list(
        await tx.session.scalars(
            delete(Media).where(Media.user_id == user_id).returning(Media.media_id)
        )
    )

    async def remove_blobs() -> None:
        for media_id in gone:
            with contextlib.suppress(OSError):  # a file already gone is what we wanted
                await store.delete(media_id)

    if gone:
        tx.after_commit(remove_blobs)
    return {"media": len(gone)}
