"""Store, serve and delete client-encrypted blobs (attachments, images, voice notes)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator

from sqlalchemy import delete, insert, select

from courtyard.core.clock import Clock
from courtyard.core.ids import is_id, new_id
from courtyard.db import Database
from courtyard.domains.accounts import Identity
from courtyard.domains.media.errors import (
    ContentLengthMismatch,
    EmptyMedia,
    InvalidMediaType,
    MediaNotFound,
    MediaTooLarge,
)
from courtyard.domains.media.models import Media
from courtyard.domains.media.schemas import OCTET_STREAM, MediaMeta, MediaUploaded
from courtyard.domains.media.store import BlobStore

log = logging.getLogger(__name__)


class MediaService:
    """Blobs are ciphertext: the server records who uploaded how many bytes and their hash,
    never what they are. Bytes go to ``store``, rows to the ``media`` table."""

    def __init__(self, db: Database, store: BlobStore, clock: Clock, max_bytes: int) -> None:
        self.db = db
        self.store = store
        self.clock = clock
        self.max_bytes = max_bytes

    async def do_upload(
        self,
        uploader: Identity,
        body: AsyncIterable[bytes],
        *,
        content_type: str | None,
        declared_size: int | None,
    ) -> MediaUploaded:
        """Stream ``body`` into the store, then record it; nothing is kept if either fails.

        The size limit is enforced while streaming, so a body without (or with a false)
        ``Content-Length`` cannot grow past it.
        """
        check_content_type(content_type)
        if declared_size is not None and declared_size > self.max_bytes:
            raise MediaTooLarge(f"uploads are limited to {self.max_bytes} bytes")
        media_id = new_id()
        # The blob is complete on disk before its row commits: a crash in between leaves an
        # unreferenced file (harmless), never a row without bytes.
        stored = await self.store.put(media_id, self._checked(body, declared_size))
        try:
            async with self.db.transaction() as tx:
                await tx.session.execute(
                    insert(Media).values(
                        media_id=media_id,
                        user_id=uploader.user_id,
                        size=stored.size,
                        sha256=stored.sha256,
                        content_type=OCTET_STREAM,
                        created_at=self.clock.now(),
                    )
                )
        except BaseException:
            await self.store.delete(media_id)
            raise
        return MediaUploaded(media_id=media_id, size=stored.size, sha256=stored.sha256)

    async def access_media(self, _reader: Identity, media_id: str) -> MediaMeta:
        """The blob's metadata for any signed-in reader: the id is the capability (ids are
        unguessable and the bytes are ciphertext whose key travels only in encrypted messages).
        """
        meta = await self.get_media(media_id)
        if meta is None:
            raise MediaNotFound()
        if await self.store.size(media_id) != meta.size:
            log.error("media %s: blob missing or of the wrong size", media_id)
            raise MediaNotFound()
        return meta

    async def get_media(self, media_id: str) -> MediaMeta | None:
        if not is_id(media_id):
            return None
        async with self.db.read() as session:
            row = (
                await session.execute(select(Media).where(Media.media_id == media_id))
            ).scalar_one_or_none()
        if row is None:
            return None
        return MediaMeta(
            media_id=row.media_id,
            user_id=row.user_id,
            size=row.size,
            sha256=row.sha256,
            content_type=row.content_type,
            created_at=row.created_at,
        )

    def read(
        self, meta: MediaMeta, start: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """The blob's bytes from ``start``; ``length`` defaults to the rest of it."""
        return self.store.read(
            meta.media_id, start, meta.size - start if length is None else length
        )

    async def do_delete(self, identity: Identity, media_id: str) -> None:
        """Delete the uploader's blob; anyone else learns only that there is no such media.

        The row goes first; the file is removed after commit (a crash in between leaves an
        unreferenced file, never a row without bytes).
        """
        if not is_id(media_id):
            raise MediaNotFound()
        async with self.db.transaction() as tx:
            result = await tx.session.execute(
                delete(Media).where(Media.media_id == media_id, Media.user_id == identity.user_id)
            )
            if not getattr(result, "rowcount", 0):
                raise MediaNotFound()

            async def remove_blob() -> None:
                await self.store.delete(media_id)

            tx.after_commit(remove_blob)

    async def _checked(
        self, body: AsyncIterable[bytes], declared: int | None
    ) -> AsyncIterator[bytes]:
        """Pass ``body`` through, failing (so the store keeps nothing) once it is too large,
        longer or shorter than declared, or empty."""
        size = 0
        async for chunk in body:
            size += len(chunk)
            if declared is not None and size > declared:
                raise ContentLengthMismatch(f"more than the declared {declared} bytes")
            if size > self.max_bytes:
                raise MediaTooLarge(f"uploads are limited to {self.max_bytes} bytes")
            yield chunk
        if size == 0:
            raise EmptyMedia()
        if declared is not None and size != declared:
            raise ContentLengthMismatch(f"{size} bytes, {declared} declared")


def check_content_type(content_type: str | None) -> None:
    """Only ``application/octet-stream`` (parameters ignored): a real type would reveal to the
    server what the ciphertext holds."""
    essence = (content_type or "").split(";", 1)[0].strip().lower()
    if essence != OCTET_STREAM:
        raise InvalidMediaType(
            f"send the encrypted bytes as {OCTET_STREAM}; the real type belongs inside the "
            "encrypted message"
        )
