"""The filesystem blob store: a blob appears under its id whole or not at all, whatever fails
while it is written (the source, fsync, the rename, a cancellation)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from courtyard.core.ids import new_id
from courtyard.domains.media import FileBlobStore
from courtyard.domains.media import store as store_module


class SourceBroke(Exception):
    pass


async def chunks(*parts: bytes, fail_after: int | None = None) -> AsyncIterator[bytes]:
    for index, part in enumerate(parts):
        if fail_after is not None and index == fail_after:
            raise SourceBroke()
        yield part


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def store(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "media")


async def test_a_stored_blob_holds_exactly_the_bytes_written(store: FileBlobStore) -> None:
    blob_id, parts = new_id(), [os.urandom(100_000), b"", os.urandom(7)]

    stored = await store.put(blob_id, chunks(*parts))

    data = b"".join(parts)
    assert (stored.size, stored.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert store.path(blob_id).read_bytes() == data
    assert files_under(store.root) == [store.path(blob_id)]  # no temporary file left
    assert await store.size(blob_id) == len(data)
    assert b"".join([c async for c in store.read(blob_id, 99_998, 5)]) == data[99_998:100_003]


async def test_a_source_that_fails_midway_leaves_no_file(store: FileBlobStore) -> None:
    blob_id = new_id()

    with pytest.raises(SourceBroke):
        await store.put(blob_id, chunks(os.urandom(70_000), os.urandom(10), fail_after=1))

    assert not store.path(blob_id).exists()
    assert files_under(store.root) == []
    assert await store.size(blob_id) is None


@pytest.mark.parametrize("step", ["fsync", "replace"])
async def test_a_failed_fsync_or_rename_leaves_no_file(
    store: FileBlobStore, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    def broken(*_args: object) -> None:
        raise OSError(5, f"simulated {step} failure")

    store.partial_dir.mkdir(parents=True)  # so the failure hits the blob, not a directory
    monkeypatch.setattr(f"{store_module.__name__}.os.{step}", broken)
    blob_id = new_id()

    with pytest.raises(OSError, match="simulated"):
        await store.put(blob_id, chunks(b"ciphertext"))

    monkeypatch.undo()
    assert not store.path(blob_id).exists()
    assert files_under(store.root) == []


async def test_a_cancelled_upload_leaves_no_file(store: FileBlobStore) -> None:
    blob_id, started = new_id(), asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        yield b"first part"
        started.set()
        await asyncio.sleep(3600)
        yield b"never"

    task = asyncio.create_task(store.put(blob_id, stalls()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert files_under(store.root) == []


async def test_delete_removes_the_file_once(store: FileBlobStore) -> None:
    blob_id = new_id()
    await store.put(blob_id, chunks(b"x" * 10))

    assert await store.delete(blob_id) is True
    assert await store.delete(blob_id) is False
    assert files_under(store.root) == []


@pytest.mark.parametrize("bad", ["../../etc/passwd", "a/b", "", "x" * 200, "short"])
def test_ids_that_could_escape_the_store_are_refused(store: FileBlobStore, bad: str) -> None:
    with pytest.raises(ValueError, match="not a blob id"):
        store.path(bad)


def test_blobs_are_sharded_two_levels_below_the_root(store: FileBlobStore) -> None:
    path = store.path(new_id())

    assert path.parent.parent.parent == store.root
    assert len(path.parent.name) == len(path.parent.parent.name) == 2
