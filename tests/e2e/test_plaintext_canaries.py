"""Plaintext canaries: what Alice, Bob and Carol say never reaches the server in any form.

A real ``courtyard serve`` process (DEBUG logging) carries 1,000 messages — 900 texts and 100
files, in three 1:1 chats and a group, with replies, edits and reactions on top — every one
carrying random canaries: in the text, in the file contents and in the file names, in the
edited text and in the reaction keys. Then none of them may be found, raw, base64 (standard or
URL-safe, padded or not, at each of the three byte alignments) or hex (lower or upper case), in:

- the SQLite database file with its ``-wal`` and ``-shm`` (scanned while the server runs, and
  the database again after it stopped), or, with ``COURTYARD_TEST_PG``, a plain ``pg_dump`` of
  a PostgreSQL database of the test's own;
- the media blob store (``data_dir/media/**``);
- the server's log.

Every canary begins with one ``marker`` that is random per run, so the scanner looks for the
marker's encodings (a handful of searches per file, not one per canary and encoding) and then
names the full canary at each hit. Any canary found implies its marker is found in the same
encoding (the stable base64 characters of a prefix are a prefix of the stable characters of
the whole), and a bare marker hit is a leak too (a truncated preview, say). The negative
controls prove the scanner finds a planted canary in every encoding, in a file and in a copy
of the real scanned data; the positive checks prove every message arrived and decrypted.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import os
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from courtyard.client import Client
from courtyard.client.crypto import KdfParams
from courtyard.client.messenger import Messenger
from tests.client_support import consent_for
from tests.conftest import PASSWORD, PG_URL, drop_pg_database, recreate_pg_database
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e

TEXTS = 900
FILES = 100  # TEXTS + FILES = 1,000 messages
BATCH = 100  # receivers sync after every batch of sends
EDITS_PER_BATCH = 3
REACTIONS_PER_BATCH = 3
REPLY_EVERY = 7
PASSPHRASE = "canary profile passphrase"
FAST_KDF = KdfParams(time_cost=1, memory_cost_kib=8, parallelism=1)  # tests only
CONTEXT = 24  # bytes shown around a hit


# The scanner ------------------------------------------------------------------------------


def encodings(raw: bytes) -> dict[str, bytes]:
    """Every form in which ``raw`` (or anything starting with it) could sit in stored bytes.

    Hex in both cases; base64, standard and URL-safe, of ``raw`` preceded by 0, 1 or 2 other
    bytes, keeping only the characters made of ``raw``'s bits alone: the first ones also hold
    bits of the preceding bytes and the last one bits of what follows (or padding), so they
    differ from one occurrence to the next. Whatever surrounds it, with or without padding,
    an encoding of ``raw`` contains one of these.
    """
    forms = {"raw": raw, "hex": raw.hex().encode(), "HEX": raw.hex().upper().encode()}
    for offset in range(3):
        data = bytes(offset) + raw
        stable = slice(-(-8 * offset // 6), 8 * len(data) // 6)  # ceil(8k/6) .. floor(8n/6)
        forms[f"base64@{offset}"] = base64.b64encode(data)[stable]
        forms[f"base64url@{offset}"] = base64.urlsafe_b64encode(data)[stable]
    return forms


@dataclass(frozen=True)
class Hit:
    where: str
    form: str
    offset: int
    canary: str | None  # the full canary at the hit, if it is one of ours (else a part)
    context: bytes

    def __str__(self) -> str:
        what = self.canary or "(the canary marker)"
        return f"{what} as {self.form} in {self.where} at {self.offset}: …{self.context!r}…"


@dataclass
class Canaries:
    """Random canaries sharing a random ``marker`` prefix; ``new()`` makes one more."""

    marker: str = field(default_factory=lambda: f"cnry{secrets.token_hex(6)}")
    issued: list[str] = field(default_factory=list)

    def new(self, tail: str = "") -> str:
        canary = f"{self.marker}{secrets.token_hex(8)}{tail}"
        self.issued.append(canary)
        return canary

    def scan(self, data: bytes, where: str) -> list[Hit]:
        """Every occurrence of the marker in any form, named by its full canary if it is one."""
        named: dict[bytes, tuple[str, str]] = {}  # an encoded canary -> (form, canary)
        for canary in self.issued:
            for form, encoded in encodings(canary.encode()).items():
                named.setdefault(encoded, (form, canary))
        lengths = sorted({len(n) for n in named}, reverse=True)
        markers: dict[bytes, list[str]] = {}  # the URL-safe form is often the standard one
        for form, encoded in encodings(self.marker.encode()).items():
            markers.setdefault(encoded, []).append(form)
        hits = []
        for needle, forms in markers.items():
            start = data.find(needle)
            while start >= 0:
                found = next(
                    (named[data[start : start + n]] for n in lengths
                     if data[start : start + n] in named),
                    ("/".join(forms), None),
                )  # fmt: skip
                context = data[max(0, start - CONTEXT) : start + len(needle) + CONTEXT]
                hits.append(Hit(where, found[0], start, found[1], context))
                start = data.find(needle, start + 1)
        return sorted(hits, key=lambda h: (h.where, h.offset))

    def scan_files(self, paths: Iterable[Path], root: Path) -> list[Hit]:
        hits: list[Hit] = []
        for path in paths:
            hits += self.scan(path.read_bytes(), str(path.relative_to(root)))
        return hits


def files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


# Negative controls: the scanner finds what is there ---------------------------------------


def test_the_scanner_finds_a_canary_in_every_encoding_and_alignment() -> None:
    canaries = Canaries()
    canary = canaries.new(tail="??>>~~").encode()  # base64 with "+" and "/" in it
    forms = encodings(canary)
    assert all(forms[f"base64@{k}"] != forms[f"base64url@{k}"] for k in range(3))
    planted: dict[str, list[bytes]] = {
        "raw": [canary],
        "hex": [canary.hex().encode()],
        "HEX": [canary.hex().upper().encode()],
    }
    for before, after in itertools.product(range(3), range(3)):
        data = os.urandom(before) + canary + os.urandom(after)
        for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            padded = encode(data)
            planted.setdefault(f"{name}@{before}", []).extend([padded, padded.rstrip(b"=")])

    for form, samples in planted.items():
        for sample in samples:
            noise = base64.b64encode(os.urandom(300))
            hits = canaries.scan(noise + sample + noise, "sample")
            assert [(h.form, h.canary, h.offset) for h in hits] == [
                (form, canary.decode(), len(noise) + sample.index(forms[form]))
            ], (form, sample)

    clean = (
        os.urandom(100_000)
        + base64.b64encode(os.urandom(100_000))
        + os.urandom(1000).hex().encode()
    )
    assert canaries.scan(clean, "clean") == []


def test_the_scanner_finds_a_canary_planted_in_a_file_and_a_truncated_one(
    tmp_path: Path,
) -> None:
    canaries = Canaries()
    canary = canaries.new()
    other = canaries.new()
    scratch = tmp_path / "media" / "ab" / "cd" / "blob"
    scratch.parent.mkdir(parents=True)
    scratch.write_bytes(os.urandom(5000) + base64.urlsafe_b64encode(b"{" + canary.encode()))
    (tmp_path / "server.log").write_text(f"preview: {other[:-4]}…\n")  # a truncated canary
    (tmp_path / "clean").write_bytes(os.urandom(5000))

    hits = canaries.scan_files(files_under(tmp_path), tmp_path)

    assert [(h.where, h.form, h.canary) for h in hits] == [
        ("media/ab/cd/blob", "base64@1", canary),  # base64url@1 is the same here
        ("server.log", "raw", None),  # the marker alone is a leak too
    ]


# The run ----------------------------------------------------------------------------------


@dataclass
class Backend:
    server: ServerProcess
    pg_url: str | None  # postgresql:// URL of the test's own database, for pg_dump


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    data_dir = tmp_path / "server"
    name = f"courtyard_canaries_{os.getpid()}_{secrets.token_hex(3)}"
    pg_url = None
    if PG_URL:
        url = asyncio.run(recreate_pg_database(name))
        pg_url = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    else:
        url = f"sqlite:///{data_dir / 'courtyard.db'}"
    server = ServerProcess(data_dir, database_url=url, env={"COURTYARD_LOG_LEVEL": "DEBUG"})
    try:
        with server:
            yield Backend(server, pg_url)
    finally:
        if PG_URL:
            asyncio.run(drop_pg_database(name))


@dataclass
class Expected:
    """What a message should look like on every member device but the sender's."""

    event_id: str
    conversation_id: str
    sender: Messenger
    type: str
    body: str
    reply_to: str | None = None
    content: bytes | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)
    edits: int = 0


async def test_no_canary_of_1000_messages_reaches_the_server_in_any_form(
    backend: Backend, tmp_path: Path
) -> None:
    server = backend.server
    canaries = Canaries()
    started = time.monotonic()
    async with contextlib.AsyncExitStack() as stack:

        async def device(name: str) -> Messenger:
            client = Client(server.url)
            stack.push_async_callback(client.aclose)
            await client.register(
                name, PASSWORD, name.title(), "DE", **await consent_for(client, "DE")
            )
            messenger = await Messenger.open(
                client, tmp_path / "profiles" / name, PASSPHRASE, kdf=FAST_KDF
            )
            stack.push_async_callback(messenger.close)
            return messenger

        alice, bob, carol = [await device(n) for n in ("alice", "bob", "carol")]
        group_name = f"team {secrets.token_hex(6)}"  # visible to the server by design
        members: dict[str, list[Messenger]] = {}
        for pair in ((alice, bob), (bob, carol), (carol, alice)):
            conversation = await pair[0].create_conversation([pair[1].user_id])
            members[conversation.conversation_id] = list(pair)
        conversation = await alice.create_conversation([bob.user_id, carol.user_id], group_name)
        group = conversation.conversation_id
        await bob.join(group)
        await carol.join(group)
        members[group] = [alice, bob, carol]
        # Half of the messages go to the group, the rest to the three 1:1 chats.
        direct = [c for c in members if c != group]
        order = [group if i % 2 == 0 else direct[(i // 2) % 3] for i in range(TEXTS + FILES)]

        expected: list[Expected] = []
        last_in: dict[str, str] = {}
        turns: dict[tuple[str, bool], int] = {}
        files_dir = tmp_path / "plain-files"
        files_dir.mkdir()
        send_started = time.monotonic()
        for number, cid in enumerate(order):
            is_file = number % 10 == 8 + number // 10 % 2  # 1 in 10, alternately group/1:1
            turn = turns[cid, is_file] = turns.get((cid, is_file), -1) + 1
            sender = members[cid][turn % len(members[cid])]  # members take turns
            if is_file:
                content = (
                    os.urandom(secrets.randbelow(4000))
                    + f"\nfile body {canaries.new()}\n".encode()
                    + os.urandom(secrets.randbelow(4000))
                )
                suffix = ".png" if number // 10 % 4 < 2 else ".txt"
                path = files_dir / f"{canaries.new()}{suffix}"
                path.write_bytes(content)
                sent = await sender.send_file(cid, path)
                kind = "m.image" if suffix == ".png" else "m.file"
                item = Expected(sent.event_id, cid, sender, kind, path.name, content=content)
            else:
                text = f"message {number}: {canaries.new()} 你好 ✓"
                reply_to = last_in.get(cid) if number % REPLY_EVERY == 0 else None
                sent = await sender.send_text(cid, text, reply_to=reply_to)
                item = Expected(sent.event_id, cid, sender, "m.text", text, reply_to=reply_to)
            expected.append(item)
            last_in[cid] = item.event_id
            if len(expected) % BATCH == 0:
                await asyncio.gather(alice.sync(), bob.sync(), carol.sync())
                await _edit_and_react(expected[-BATCH:], members, canaries)
        await asyncio.gather(alice.sync(), bob.sync(), carol.sync())
        sending = time.monotonic() - send_started

        # Every message arrived at every other member device and decrypted as sent.
        delivered = 0
        for item in expected:
            for receiver in members[item.conversation_id]:
                if receiver is item.sender:
                    continue
                got = receiver.message(item.event_id)
                assert got is not None, f"{item.event_id} never reached {receiver.user_id}"
                assert (got.type, got.body, got.reply_to, got.edits, got.reactions) == (
                    item.type, item.body, item.reply_to, item.edits, item.reactions,
                )  # fmt: skip
                assert got.sender_user_id == item.sender.user_id
                if item.content is not None:
                    assert await receiver.download_file(got) == item.content
                delivered += 1
        assert len(expected) == TEXTS + FILES
        # Texts and files from every member of every conversation, both kinds of file.
        assert {(e.conversation_id, e.sender.user_id, e.type == "m.text") for e in expected} == {
            (cid, m.user_id, is_text) for cid, ms in members.items() for m in ms
            for is_text in (True, False)
        }  # fmt: skip
        assert {(e.conversation_id == group, e.type) for e in expected} == {
            (in_group, kind) for in_group in (True, False)
            for kind in ("m.text", "m.file", "m.image")
        }  # fmt: skip
        assert sum(e.type != "m.text" for e in expected if e.conversation_id == group) == 50
        assert delivered == 1500  # 500 group messages to 2 members, 500 direct ones to 1
        assert sum(e.edits for e in expected) == EDITS_PER_BATCH * len(expected) // BATCH
        assert (
            sum(len(e.reactions) for e in expected) == REACTIONS_PER_BATCH * len(expected) // BATCH
        )
        assert len(canaries.issued) == TEXTS + 2 * FILES + 60
        checking = time.monotonic() - send_started - sending

        # Scan while the server still runs (the WAL holds the recent writes).
        scan_started = time.monotonic()
        data_dir = server.data_dir
        live = files_under(data_dir)
        live_bytes = sum(p.stat().st_size for p in live)
        hits = canaries.scan_files(live, data_dir)
        names = {p.name for p in live}
        blobs = [p for p in live if "media" in p.relative_to(data_dir).parts]
        assert len(blobs) >= FILES
        assert server.log_path in live
        if backend.pg_url:
            dump = tmp_path / "pg_dump.sql"
            pg_dump = await asyncio.create_subprocess_exec(
                "pg_dump", "--no-owner", "--format=plain", "--file", str(dump),
                "--dbname", backend.pg_url,
            )  # fmt: skip
            assert await asyncio.wait_for(pg_dump.wait(), 120) == 0
            dumped = dump.read_bytes()
            assert group_name.encode() in dumped  # the dump holds this run's data
            assert dumped.count(b"megolm.v1.aes-sha2") >= TEXTS + FILES
            hits += canaries.scan(dumped, "pg_dump")
            database = dumped
        else:
            assert {"courtyard.db", "courtyard.db-wal", "courtyard.db-shm"} <= names
            database = b"".join(
                (data_dir / n).read_bytes() for n in sorted(names) if "courtyard.db" in n
            )
            assert group_name.encode() in database  # the scanned files hold this run's data

    server.stop()  # a clean stop checkpoints the WAL into the database file
    after = files_under(server.data_dir)
    hits += canaries.scan_files(after, server.data_dir)
    log = server.log_path.read_bytes()
    assert b"debug" in log.lower()  # COURTYARD_LOG_LEVEL=DEBUG took effect
    assert log.count(b"/v1/conversations/{conversation_id}/messages") >= TEXTS + FILES
    scanning = time.monotonic() - scan_started
    print(
        f"\n[{'PostgreSQL' if backend.pg_url else 'SQLite'}] {len(expected)} messages "
        f"(+ {len(canaries.issued) - TEXTS - 2 * FILES} edits and reactions) sent and "
        f"synced in {sending:.1f}s, checked in {checking:.1f}s; scan {scanning:.1f}s; whole test "
        f"{time.monotonic() - started:.1f}s; scanned live {live_bytes:,} bytes in "
        f"{len(live)} files (log {len(log):,} bytes, {len(blobs)} blobs), database "
        f"{'dump ' if backend.pg_url else 'files '}{len(database):,} bytes"
    )

    assert hits == [], "canaries on the server:\n" + "\n".join(map(str, hits[:20]))

    # Negative control on the real data: the same scan finds canaries planted in a copy.
    chosen = [canaries.issued[secrets.randbelow(len(canaries.issued))] for _ in range(3)]
    third = len(database) // 3
    planted = tmp_path / "planted.bin"
    planted.write_bytes(
        database[:third] + chosen[0].encode()
        + database[third : 2 * third] + chosen[1].encode().hex().upper().encode()
        + database[2 * third :] + base64.b64encode(b"x" + chosen[2].encode())
    )  # fmt: skip
    found = canaries.scan_files([planted], tmp_path)
    assert [(h.form, h.canary) for h in found] == [
        ("raw", chosen[0]),
        ("HEX", chosen[1]),
        ("base64@1", chosen[2]),
    ]


async def _edit_and_react(
    batch: list[Expected], members: dict[str, list[Messenger]], canaries: Canaries
) -> None:
    """Edit a few texts of the batch (by their senders) and react to a few (by another
    member), each with a canary of its own; the batch has been synced by everyone."""
    texts = [e for e in batch if e.type == "m.text"]
    for item in texts[:EDITS_PER_BATCH]:
        item.body = f"edited: {canaries.new()}"
        await item.sender.edit(item.event_id, item.body)
        item.edits += 1
    for item in texts[-REACTIONS_PER_BATCH:]:
        reactor = next(m for m in members[item.conversation_id] if m is not item.sender)
        key = f"👍 {canaries.new()}"
        await reactor.react(item.event_id, key)
        item.reactions[key] = [reactor.user_id]
