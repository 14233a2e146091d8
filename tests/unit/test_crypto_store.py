"""The encrypted crypto store: survives close/reopen, refuses a wrong passphrase, and never
writes secret key material in the clear."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import pytest
from vodozemac import GroupSession

from courtyard.client.crypto import CryptoStore, KdfParams, StoreError, WrongPassphrase
from courtyard.client.crypto.store import derive_key
from tests.unit.crypto_support import (
    FAST_KDF,
    PASSPHRASE,
    connect,
    introduce,
    new_device,
    reopen,
    send_to_device,
    share_room_key,
)


def test_default_kdf_is_strong_enough_for_a_device() -> None:
    params = KdfParams()
    assert params.memory_cost_kib >= 64 * 1024
    assert params.time_cost >= 3


def test_store_uses_wal_and_full_sync_and_records_kdf_parameters(tmp_path: Path) -> None:
    store = CryptoStore.create(tmp_path / "s.db", PASSPHRASE, kdf=FAST_KDF)
    assert store.get_meta("kdf") == "argon2id"
    assert store.get_meta("memory_cost_kib") == "8"
    assert len(bytes.fromhex(store.get_meta("salt") or "")) == 16
    store.close()
    raw = sqlite3.connect(tmp_path / "s.db")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_sessions_keep_working_after_close_and_reopen(tmp_path: Path) -> None:
    alice, bob = new_device(tmp_path, "alice", "A1"), new_device(tmp_path, "bob", "B1")
    introduce(alice, bob)
    connect(alice, bob)
    assert send_to_device(alice, bob, {"type": "t", "n": 1}) == {"type": "t", "n": 1}
    share_room_key(alice, bob, "c1")
    first = alice.encrypt_message("c1", {"body": "before"})
    keys = alice.identity_keys()

    alice, bob = reopen(alice), reopen(bob)

    assert alice.identity_keys() == keys
    assert send_to_device(bob, alice, {"type": "t", "n": 2}) == {"type": "t", "n": 2}
    assert send_to_device(alice, bob, {"type": "t", "n": 3}) == {"type": "t", "n": 3}
    assert bob.decrypt_message("c1", "e1", "alice", first) == {"body": "before"}
    second = alice.encrypt_message("c1", {"body": "after"})
    assert second["session_id"] == first["session_id"]
    assert bob.decrypt_message("c1", "e2", "alice", second) == {"body": "after"}
    peer = bob.get_peer_device("alice", "A1")
    assert peer is not None
    assert peer.curve25519 == keys["curve25519"]


def test_wrong_passphrase_is_refused_clearly(tmp_path: Path) -> None:
    new_device(tmp_path, "alice", "A1").store.close()
    with pytest.raises(WrongPassphrase):
        CryptoStore.open(tmp_path / "alice-A1.db", "not the passphrase")


def test_store_refuses_to_overwrite_or_open_a_missing_file(tmp_path: Path) -> None:
    new_device(tmp_path, "alice", "A1").store.close()
    with pytest.raises(StoreError):
        CryptoStore.create(tmp_path / "alice-A1.db", PASSPHRASE, kdf=FAST_KDF)
    with pytest.raises(StoreError):
        CryptoStore.open(tmp_path / "missing.db", PASSPHRASE)


def _forms(secret: bytes) -> list[bytes]:
    b64 = base64.b64encode(secret)
    return [secret, b64, b64.rstrip(b"="), secret.hex().encode(), secret.hex().upper().encode()]


def test_no_secret_key_material_in_the_database_file(tmp_path: Path) -> None:
    alice, bob = new_device(tmp_path, "alice", "A1"), new_device(tmp_path, "bob", "B1")
    introduce(alice, bob)
    connect(alice, bob)
    send_to_device(alice, bob, {"type": "t"})
    share_room_key(alice, bob, "c1")
    outbound = alice.outbound_for("c1")
    session_key = base64.b64decode(outbound.session_key.to_base64() + "==")
    ratchet = session_key[5 : 5 + 128]  # version (1) + index (4), then the 128-byte ratchet
    pickle_key = derive_key(
        PASSPHRASE,
        bytes.fromhex(alice.store.get_meta("salt") or ""),
        FAST_KDF,
    )
    secrets = [session_key, ratchet, pickle_key, PASSPHRASE.encode()]
    alice.encrypt_message("c1", {"body": "canary-plaintext-1234"})
    # The ratchet has moved on: the current session key is a secret too.
    advanced = alice.outbound_for("c1").session_key.to_base64()
    secrets.append(base64.b64decode(advanced + "=="))
    needles = [form for secret in secrets for form in _forms(secret)]
    needles.append(b"canary-plaintext-1234")
    needles.append(outbound.session_key.to_base64().encode())

    path = alice.store.path
    # Read while open (the -wal holds recent pages), then after a checkpoint on close.
    for _ in range(2):
        blob = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
        assert len(blob) > 4096
        found = [needle for needle in needles if needle in blob]
        assert found == []
        alice.store.close()


def test_canary_check_would_see_a_plaintext_key(tmp_path: Path) -> None:
    # The negative control: the same scan finds a session key that IS written in the clear.
    path = tmp_path / "leak.db"
    key = GroupSession().session_key.to_base64()
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (v TEXT)")
    db.execute("INSERT INTO t VALUES (?)", (key,))
    db.commit()
    db.close()
    assert key.encode() in path.read_bytes()
