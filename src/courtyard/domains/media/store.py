"""Where blob bytes live: the ``BlobStore`` protocol and its filesystem implementation.

A blob appears under its id whole or not at all: bytes go to a temporary file, which is
flushed, fsynced and then renamed into place (an atomic step on POSIX), and the directory is
fsynced so the rename survives power loss. A crash mid-write leaves at most a ``.part`` file in
``tmp/``, never a partial blob under a live id.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

READ_CHUNK_BYTES = 64 * 1024
BLOB_ID = re.compile(r"^[A-Za-z0-9_-]{8,128}$")


@dataclass(frozen=True)
class StoredBlob:
    size: int
    sha256: str


class BlobStore(Protocol):
    """Opaque bytes by id. Implementations must make ``put`` all-or-nothing."""

    async def put(self, blob_id: str, chunks: AsyncIterable[bytes]) -> StoredBlob:
        """Store every chunk under ``blob_id``; if ``chunks`` (or the write) fails, store nothing
        and re-raise."""
        ...

    async def size(self, blob_id: str) -> int | None:
        """The blob's size in bytes, or None if there is no such blob."""
        ...

    def read(self, blob_id: str, start: int, length: int) -> AsyncIterator[bytes]:
        """``length`` bytes of the blob from offset ``start``, in chunks."""
        ...

    async def delete(self, blob_id: str) -> bool:
        """Remove the blob; False if there was none."""
        ...


class FileBlobStore:
    """Blobs as files under ``root``, in two levels of shard directories (256 by 256), so no
    directory grows huge. Directories are created on first write, not at start."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.partial_dir = root / "tmp"

    def path(self, blob_id: str) -> Path:
        """The file of ``blob_id``; shards come from a hash, so any id shape spreads evenly."""
        if not BLOB_ID.fullmatch(blob_id):
            raise ValueError(f"not a blob id: {blob_id!r}")
        shard = hashlib.sha256(blob_id.encode()).hexdigest()
        return self.root / shard[:2] / shard[2:4] / blob_id

    async def put(self, blob_id: str, chunks: AsyncIterable[bytes]) -> StoredBlob:
        final = self.path(blob_id)
        await asyncio.to_thread(_make_dirs, self.partial_dir)
        fd, name = await asyncio.to_thread(
            tempfile.mkstemp, dir=self.partial_dir, prefix=f"{blob_id}.", suffix=".part"
        )
        partial = Path(name)
        digest, size = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as handle:
                async for chunk in chunks:
                    if not chunk:
                        continue
                    digest.update(chunk)
                    size += len(chunk)
                    await asyncio.to_thread(handle.write, chunk)
                await asyncio.to_thread(_flush_and_sync, handle)
            await asyncio.to_thread(_publish, partial, final)
        except BaseException:
            # Synchronously: a second cancellation must not interrupt the cleanup.
            _discard(partial)
            raise
        return StoredBlob(size=size, sha256=digest.hexdigest())

    async def size(self, blob_id: str) -> int | None:
        try:
            stat = await asyncio.to_thread(self.path(blob_id).stat)
        except FileNotFoundError:
            return None
        return stat.st_size

    async def read(self, blob_id: str, start: int, length: int) -> AsyncIterator[bytes]:
        # Opened on first iteration, so a response that is never sent leaks no handle.
        handle = await asyncio.to_thread(_open_at, self.path(blob_id), start)
        try:
            remaining = length
            while remaining > 0:
                chunk = await asyncio.to_thread(handle.read, min(READ_CHUNK_BYTES, remaining))
                if not chunk:
                    raise OSError(f"blob {blob_id} is shorter than expected")
                remaining -= len(chunk)
                yield chunk
        finally:
            handle.close()

    async def delete(self, blob_id: str) -> bool:
        try:
            await asyncio.to_thread(self.path(blob_id).unlink)
        except FileNotFoundError:
            return False
        return True


def _discard(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _open_at(path: Path, start: int) -> BinaryIO:
    handle = path.open("rb")
    handle.seek(start)
    return handle


def _flush_and_sync(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _publish(partial: Path, final: Path) -> None:
    """Move a complete, synced file into place and make the new directory entry durable."""
    _make_dirs(final.parent)
    os.replace(partial, final)
    _sync_dir(final.parent)


def _make_dirs(path: Path) -> None:
    """Create ``path`` and missing parents, syncing each new entry into its parent."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another upload made it first
            directory.mkdir()
        _sync_dir(directory.parent)


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
