"""The SDK's end-to-end encrypted messenger against the real app: keys published and shared
over Olm, messages in Megolm, files in AES-GCM, local history and search, and what the server
(and a removed or late member) never gets to read."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import os
from pathlib import Path

import pytest
from fastapi import FastAPI

from courtyard.client import ApiError, SyncEvent
from courtyard.client.conversations import history as server_history
from courtyard.client.crypto import (
    MissingSessionKey,
    WrongPassphrase,
)
from courtyard.client.messenger import FingerprintMismatch, Messenger
from tests.integration.messenger_support import (
    PASSPHRASE,
    Device,
    direct,
    group,
)


def bodies(messenger: Messenger, conversation_id: str) -> list[str | None]:
    return [m.body for m in messenger.messages(conversation_id)]


async def test_alice_and_bob_exchange_text_both_ways_in_a_direct_chat(device: Device) -> None:
    alice, bob = await device("alice"), await device("bob")
    cid = await direct(alice, bob)

    sent = await alice.send_text(cid, "hello bob")
    received = await bob.sync()
    reply = await bob.send_text(cid, "hi alice", reply_to=sent.event_id)
    await alice.sync()

    assert [m.body for m in received] == ["hello bob"]
    assert received[0].sender_user_id == alice.user_id
    assert bodies(alice, cid) == ["hello bob", "hi alice"]
    assert bodies(bob, cid) == ["hello bob", "hi alice"]
    assert alice.message(reply.event_id) is not None
    assert alice.message(reply.event_id).reply_to == sent.event_id  # type: ignore[union-attr]


async def test_a_chat_can_be_started_by_username(device: Device) -> None:
    alice, bob = await device("alice"), await device("bob")
    by_name = await alice.create_conversation(["bob"])
    by_id = await alice.create_conversation([bob.user_id])
    assert by_name.conversation_id == by_id.conversation_id
    with pytest.raises(ApiError) as unknown:
        await alice.create_conversation(["nobody"])
    assert unknown.value.code == "user_not_found"


async def test_devices_are_verified_by_comparing_fingerprints(device: Device) -> None:
    alice, bob = await device("alice"), await device("bob")
    cid = await direct(alice, bob)
    [before] = await alice.conversation_security(cid)
    assert before.state in {"new", "unverified"}
    with pytest.raises(FingerprintMismatch):
        await alice.verify_device(bob.user_id, before.device_id, alice.fingerprint())
    await alice.verify_device(bob.user_id, before.device_id, bob.fingerprint())
    [after] = await alice.conversation_security(cid)
    assert after.state == "verified"
    # Bob's view of Alice is unaffected: verification is per viewer.
    assert {d.state for d in await bob.conversation_security(cid)} != {"verified"}


async def test_the_server_keeps_only_megolm_ciphertext(device: Device) -> None:
    alice, bob = await device("alice"), await device("bob")
    cid = await direct(alice, bob)

    await alice.send_text(cid, "nothing to see")
    events, _ = await server_history(bob.client, cid)

    encrypted = [e for e in events if e.type == "m.encrypted"]
    assert len(encrypted) == 1
    assert encrypted[0].content["algorithm"] == "megolm.v1.aes-sha2"
    assert "nothing to see" not in str(encrypted[0].content)


async def test_carol_joining_later_reads_only_what_comes_after(device: Device) -> None:
    alice, bob, carol = await device("alice"), await device("bob"), await device("carol")
    cid = await group(alice, bob)
    before = await alice.send_text(cid, "before carol")
    earlier, _ = await server_history(bob.client, cid)

    await alice.invite(cid, [carol.user_id])
    await carol.join(cid)
    after = await alice.send_text(cid, "after carol")
    await carol.sync()
    await bob.sync()

    assert bodies(carol, cid) == ["after carol"]
    assert bodies(bob, cid) == ["before carol", "after carol"]
    assert after.report.rotated
    old = next(e for e in earlier if e.event_id == before.event_id)
    with pytest.raises(MissingSessionKey):  # the old session's key never reached carol
        carol.crypto.decrypt_message(cid, old.event_id, alice.user_id, old.content)


async def test_removed_member_gets_nothing_later_and_could_not_decrypt_it(device: Device) -> None:
    alice, bob, carol = await device("alice"), await device("bob"), await device("carol")
    cid = await group(alice, bob, carol)
    await alice.send_text(cid, "all three")
    await carol.sync()

    await alice.remove_member(cid, carol.user_id)
    secret = await alice.send_text(cid, "carol is gone")
    later = await carol.sync()
    await bob.sync()
    events, _ = await server_history(bob.client, cid)

    assert later == []
    assert bodies(carol, cid) == ["all three"]
    assert bodies(bob, cid) == ["all three", "carol is gone"]
    assert carol.user_id not in {d.user_id for d in secret.report.devices}
    leaked = next(e for e in events if e.event_id == secret.event_id)
    with pytest.raises(MissingSessionKey):  # rotated: carol holds only the old session
        carol.crypto.decrypt_message(cid, leaked.event_id, alice.user_id, leaked.content)


async def test_files_round_trip_and_the_server_stores_only_ciphertext(
    device: Device, tmp_path: Path
) -> None:
    alice, bob = await device("alice"), await device("bob")
    cid = await direct(alice, bob)
    data = os.urandom(200_000)
    (tmp_path / "photo.png").write_bytes(data)
    (tmp_path / "notes.bin").write_bytes(b"plain words " * 100)

    image = await alice.send_file(cid, tmp_path / "photo.png")
    other = await alice.send_file(cid, tmp_path / "notes.bin")
    received = await bob.sync()

    assert [(m.type, m.body) for m in received] == [
        ("m.image", "photo.png"),
        ("m.file", "notes.bin"),
    ]
    assert await bob.download_file(received[0]) == data
    assert await bob.download_file(other.event_id) == b"plain words " * 100
    message = bob.message(image.event_id)
    assert message is not None
    assert message.attachment is not None
    blob = await bob.client.download_media(message.attachment["media_id"])
    assert blob != data
    assert data[:64] not in blob
    stored = b"".join(p.read_bytes() for p in _server_files(tmp_path))
    assert data[:64] not in stored
    assert b"plain words plain words" not in stored


async def test_second_device_of_bob_reads_what_is_sent_after_it_exists(device: Device) -> None:
    alice, bob = await device("alice"), await device("bob")
    cid = await direct(alice, bob)
    await alice.send_text(cid, "old news")
    await bob.sync()

    laptop = await device("bob", login=True)
    await alice.send_text(cid, "fresh news")
    await bob.send_text(cid, "from bob's phone")
    await laptop.sync()

    assert bodies(laptop, cid) == ["fresh news", "from bob's phone"]
    security = await alice.conversation_security(cid)
    assert {(s.user_id, s.device_id) for s in security} >= {
        (bob.user_id, bob.device_id),
        (laptop.user_id, laptop.device_id),
    }
    assert all(s.state in ("unverified", "new") for s in security if s.user_id == bob.user_id)


async def test_recall_blanks_the_message_on_the_other_side(device: Device) -> None:
    alice, bob = await device("alice"), await device("bob")
    cid = await direct(alice, bob)
    sent = await alice.send_text(cid, "oops, wrong chat")
    await bob.sync()
    assert bob.search("wrong chat")

    await alice.recall(sent.event_id)
    await bob.sync()

    seen = bob.message(sent.event_id)
    assert seen is not None
    assert seen.recalled
    assert seen.body is None
    assert bob.search("wrong chat") == []
    assert alice.message(sent.event_id).recalled  # type: ignore[union-attr]


async def test_edit_and_reaction_are_applied_for_both(device: Device) -> None:
    alice, bob = await device("alice"), await device("bob")
    cid = await direct(alice, bob)
    sent = await alice.send_text(cid, "see you at 5")
    await bob.sync()

    await alice.edit(sent.event_id, "see you at 6")
    await bob.react(sent.event_id, "👍")
    await bob.sync()
    await alice.sync()

    for messenger in (alice, bob):
        message = messenger.message(sent.event_id)
        assert message is not None
        assert (message.body, message.edits) == ("see you at 6", 1)
        assert message.reactions == {"👍": [bob.user_id]}
    assert bob.search("at 6")
    assert bob.search("at 5") == []


async def test_search_finds_english_words_and_short_chinese_queries(device: Device) -> None:
    alice, bob = await device("alice"), await device("bob")
    cid = await direct(alice, bob)
    await alice.send_text(cid, "The quarterly Report is ready")
    await alice.send_text(cid, "我们明天去北京")
    await alice.send_text(cid, "上海见")
    await bob.sync()

    assert [m.body for m in bob.search("report")] == ["The quarterly Report is ready"]
    assert [m.body for m in bob.search("北京")] == ["我们明天去北京"]
    assert [m.body for m in bob.search("京")] == ["我们明天去北京"]
    assert [m.body for m in bob.search("明天去")] == ["我们明天去北京"]
    assert bob.search("广州") == []
    assert bob.search("100%") == []


async def test_a_message_arriving_before_its_key_is_read_once_the_key_arrives(
    device: Device,
) -> None:
    alice, bob = await device("alice"), await device("bob")
    cid = await direct(alice, bob)
    sent = await alice.send_text(cid, "key comes later")
    batch, _ = await bob.client.sync_once(0)
    timeline = [e for e in batch if e.type == "conversation.event"]
    keys = [e for e in batch if e.type == "to_device"]

    assert await bob.process(timeline) == []
    assert bob.messages(cid) == []
    assert len(bob.history.pending()) == 1
    shown = await bob.process(keys)

    assert [m.event_id for m in shown] == [sent.event_id]
    assert bodies(bob, cid) == ["key comes later"]
    assert bob.history.pending() == []


async def test_a_reopened_messenger_keeps_chatting(
    device: Device, app: FastAPI, tmp_path: Path
) -> None:
    alice, bob = await device("alice"), await device("bob")
    cid = await direct(alice, bob)
    await alice.send_text(cid, "first")
    await bob.sync()
    profile = bob.history.path.parent
    await bob.close()

    with pytest.raises(WrongPassphrase):
        await Messenger.open(bob.client, profile, "not the passphrase")
    async with await Messenger.open(bob.client, profile, PASSPHRASE) as again:
        await alice.send_text(cid, "second")
        await again.sync()
        await again.send_text(cid, "third")
        await alice.sync()
        assert bodies(again, cid) == ["first", "second", "third"]
    assert bodies(alice, cid) == ["first", "second", "third"]


async def test_a_replayed_megolm_event_is_refused(device: Device) -> None:
    alice, bob = await device("alice"), await device("bob")
    cid = await direct(alice, bob)
    sent = await alice.send_text(cid, "only once")
    await bob.sync()
    events, _ = await server_history(bob.client, cid)
    original = next(e for e in events if e.event_id == sent.event_id)
    forged = {**original.to_wire(), "event_id": "forged-id", "seq": original.seq + 100}

    assert await bob.inbox.timeline(forged) == []
    assert bob.message("forged-id") is None


async def test_one_time_keys_are_replenished_when_the_server_says_they_are_low(
    device: Device,
) -> None:
    alice, bob = await device("alice"), await device("bob")
    full = (await bob.client.key_counts()).one_time_key_count
    for _ in range(full - 5):
        await alice.client.claim_keys([(bob.user_id, bob.device_id)])
    assert (await bob.client.key_counts()).one_time_key_count == 5
    low = SyncEvent(
        1, "e", "keys.one_time_keys_low", {"device_id": bob.device_id, "count": 5}, _now()
    )

    await bob.process([low])

    assert (await bob.client.key_counts()).one_time_key_count == full


async def test_sync_forever_over_the_websocket_delivers_live(
    device: Device, live_server: str
) -> None:
    alice = await device("alice", url=live_server)
    bob = await device("bob", url=live_server)
    cid = await direct(alice, bob)
    task = asyncio.create_task(bob.sync_forever())
    try:
        await alice.send_text(cid, "live over ws")
        async with asyncio.timeout(10):
            while not bob.messages(cid):  # noqa: ASYNC110 - the history has no change signal
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert bodies(bob, cid) == ["live over ws"]


def _server_files(data_dir: Path) -> list[Path]:
    """The server's database (+ WAL) and blob store: everything but the device profiles
    and the test's own plaintext files (which sit directly in ``data_dir``)."""
    found = []
    for path in data_dir.rglob("*"):
        if not path.is_file() or "profiles" in path.parts:
            continue
        if path.parent != data_dir or path.name.startswith("courtyard.db"):
            found.append(path)
    return found


def _encodings(raw: bytes) -> list[bytes]:
    return [
        raw,
        raw.hex().encode(),
        raw.hex().upper().encode(),
        base64.b64encode(raw).rstrip(b"="),
        base64.urlsafe_b64encode(raw).rstrip(b"="),
    ]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
