"""DeviceCrypto: published keys, Olm between two devices, Megolm to a group, rotation."""

from __future__ import annotations

from pathlib import Path

import pytest

from courtyard.client.crypto import (
    BadSignature,
    DecryptionFailed,
    DeviceCrypto,
    MissingSessionKey,
    NoOlmSession,
    SenderMismatch,
    StoreError,
    canonical_json,
    sign_object,
    verify_object,
)
from tests.unit.crypto_support import (
    StepClock,
    claim_key,
    connect,
    introduce,
    new_device,
    reopen,
    send_to_device,
    share_room_key,
)


def test_canonical_json_sorts_keys_without_spaces_and_keeps_unicode() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": "é", "c": None}]}) == (
        '{"a":[1,{"c":null,"d":"é"}],"b":1}'.encode()
    )


def test_signature_covers_every_field_but_itself(tmp_path: Path) -> None:
    device = new_device(tmp_path, "alice", "A1")
    signed = sign_object(device.account, {"x": 1, "signature": "ignored"})
    ed = device.identity_keys()["ed25519"]
    assert verify_object(ed, signed)
    assert not verify_object(ed, {**signed, "x": 2})
    assert not verify_object(ed, {"x": 1})
    assert not verify_object("not a key", signed)


def test_device_keys_payload_is_signed_and_bound(tmp_path: Path) -> None:
    device = new_device(tmp_path, "alice", "A1")
    payload = device.device_keys_payload()
    assert payload["user_id"] == "alice"
    assert payload["device_id"] == "A1"
    assert payload["algorithms"] == ["olm.v1.curve25519-aes-sha2", "megolm.v1.aes-sha2"]
    assert payload["keys"] == device.identity_keys()
    assert verify_object(payload["keys"]["ed25519"], payload)


def test_one_time_keys_are_signed_bound_and_published_once(tmp_path: Path) -> None:
    device = new_device(tmp_path, "alice", "A1")
    keys = device.generate_one_time_keys(3)
    assert len(keys) == 3
    ed = device.identity_keys()["ed25519"]
    for key in keys:
        assert (key["user_id"], key["device_id"], key["fallback"]) == ("alice", "A1", False)
        assert verify_object(ed, key)
    device.mark_published()
    assert device.generate_one_time_keys(0) == []
    fallback = device.fallback_key_payload()
    assert fallback["fallback"] is True
    assert verify_object(ed, fallback)
    assert device.fallback_key_payload() == fallback  # pending until published


def test_needs_one_time_keys_tops_up_to_the_target(tmp_path: Path) -> None:
    device = new_device(tmp_path, "alice", "A1")
    target = device.account.max_number_of_one_time_keys
    assert device.needs_one_time_keys(0) == target
    assert device.needs_one_time_keys(target - 5) == 5
    assert device.needs_one_time_keys(target + 5) == 0


def test_open_refuses_a_store_of_another_device(tmp_path: Path) -> None:
    device = new_device(tmp_path, "alice", "A1")
    with pytest.raises(StoreError):
        DeviceCrypto(device.store, "alice", "A2").open()
    with pytest.raises(StoreError):
        DeviceCrypto(device.store, "alice", "A1").create()


def test_full_olm_exchange_between_two_devices(tmp_path: Path) -> None:
    alice, bob = new_device(tmp_path, "alice", "A1"), new_device(tmp_path, "bob", "B1")
    introduce(alice, bob)
    with pytest.raises(NoOlmSession):
        alice.encrypt_to_device("bob", "B1", {"type": "t"})
    connect(alice, bob)
    envelope = alice.encrypt_to_device("bob", "B1", {"type": "m.hello", "text": "hi"})
    assert envelope["algorithm"] == "olm.v1.curve25519-aes-sha2"
    assert envelope["sender_key"] == alice.identity_keys()["curve25519"]
    [(recipient, ciphertext)] = envelope["ciphertext"].items()
    assert recipient == bob.identity_keys()["curve25519"]
    assert ciphertext["type"] == 0
    assert bob.decrypt_to_device("alice", "A1", envelope) == {"type": "m.hello", "text": "hi"}
    # Bob answers on the same session; once Alice has read it she sends normal messages.
    assert send_to_device(bob, alice, {"type": "m.reply"}) == {"type": "m.reply"}
    envelope = alice.encrypt_to_device("bob", "B1", {"type": "m.again"})
    assert envelope["ciphertext"][recipient]["type"] == 1
    assert bob.decrypt_to_device("alice", "A1", envelope) == {"type": "m.again"}


def test_one_time_key_is_spent_after_the_first_session(tmp_path: Path) -> None:
    alice, bob, carol = (new_device(tmp_path, u, "D") for u in ("alice", "bob", "carol"))
    introduce(alice, bob, carol)
    otk = claim_key(bob)
    alice.start_session(bob.identity_keys()["curve25519"], otk)
    carol.start_session(bob.identity_keys()["curve25519"], otk)
    send_to_device(alice, bob, {"type": "t"})
    # The server handed the same one-time key out twice; the second session cannot open.
    with pytest.raises(DecryptionFailed):
        send_to_device(carol, bob, {"type": "t"})


def test_fallback_key_serves_several_sessions(tmp_path: Path) -> None:
    alice, bob, carol = (new_device(tmp_path, u, "D") for u in ("alice", "bob", "carol"))
    introduce(alice, bob, carol)
    fallback = bob.fallback_key_payload()
    bob.mark_published()
    alice.start_session(bob.identity_keys()["curve25519"], fallback)
    carol.start_session(bob.identity_keys()["curve25519"], fallback)
    assert send_to_device(alice, bob, {"type": "a"}) == {"type": "a"}
    assert send_to_device(carol, bob, {"type": "c"}) == {"type": "c"}


def test_start_session_verifies_the_one_time_key_signature(tmp_path: Path) -> None:
    alice, bob = new_device(tmp_path, "alice", "A1"), new_device(tmp_path, "bob", "B1")
    introduce(alice, bob)
    otk = claim_key(bob)
    forged = {**otk, "key": claim_key(alice)["key"]}
    with pytest.raises(BadSignature):
        alice.start_session(bob.identity_keys()["curve25519"], forged)
    rebound = sign_object(alice.account, {**otk, "user_id": "alice"})
    with pytest.raises(BadSignature):
        alice.start_session(bob.identity_keys()["curve25519"], rebound)


def test_megolm_message_from_alice_reaches_bob_and_carol(tmp_path: Path) -> None:
    alice, bob, carol = (new_device(tmp_path, u, "D") for u in ("alice", "bob", "carol"))
    introduce(alice, bob, carol)
    connect(alice, bob)
    connect(alice, carol)
    share_room_key(alice, bob, "room")
    share_room_key(alice, carol, "room")
    envelope = alice.encrypt_message("room", {"body": "hello group"})
    assert set(envelope) == {"algorithm", "sender_key", "session_id", "device_id", "ciphertext"}
    assert envelope["algorithm"] == "megolm.v1.aes-sha2"
    assert envelope["device_id"] == "D"
    for reader in (bob, carol, alice):
        assert reader.decrypt_message("room", "$e1", "alice", envelope) == {"body": "hello group"}


def test_megolm_without_the_room_key_asks_to_retry_later(tmp_path: Path) -> None:
    alice, bob = new_device(tmp_path, "alice", "A1"), new_device(tmp_path, "bob", "B1")
    introduce(alice, bob)
    connect(alice, bob)
    envelope = alice.encrypt_message("room", {"body": "early"})
    with pytest.raises(MissingSessionKey) as caught:
        bob.decrypt_message("room", "$e1", "alice", envelope)
    assert caught.value.session_id == envelope["session_id"]
    share_room_key(alice, bob, "room")
    # The key shared now starts after the first message; later messages decrypt.
    later = alice.encrypt_message("room", {"body": "later"})
    assert bob.decrypt_message("room", "$e2", "alice", later) == {"body": "later"}


def test_megolm_sender_is_bound_to_the_session(tmp_path: Path) -> None:
    alice, bob = new_device(tmp_path, "alice", "A1"), new_device(tmp_path, "bob", "B1")
    introduce(alice, bob)
    connect(alice, bob)
    share_room_key(alice, bob, "room")
    envelope = alice.encrypt_message("room", {"body": "x"})
    with pytest.raises(SenderMismatch):
        bob.decrypt_message("room", "$e1", "mallory", envelope)
    with pytest.raises(SenderMismatch):
        bob.decrypt_message("room", "$e1", "alice", {**envelope, "device_id": "OTHER"})


def test_101st_message_uses_a_new_session(tmp_path: Path) -> None:
    alice = new_device(tmp_path, "alice", "A1")
    ids = [alice.encrypt_message("room", {"n": n})["session_id"] for n in range(101)]
    assert len(set(ids[:100])) == 1
    assert ids[100] != ids[99]


def test_session_rotates_after_seven_days(tmp_path: Path) -> None:
    clock = StepClock()
    alice = new_device(tmp_path, "alice", "A1", clock)
    first = alice.encrypt_message("room", {"n": 1})["session_id"]
    clock.advance(days=6, hours=23)
    assert alice.encrypt_message("room", {"n": 2})["session_id"] == first
    clock.advance(hours=1)
    assert alice.encrypt_message("room", {"n": 3})["session_id"] != first


def test_session_rotates_on_membership_change_and_counts_survive_reopen(tmp_path: Path) -> None:
    alice = new_device(tmp_path, "alice", "A1")
    first = alice.outbound_for("room").session_id
    assert alice.outbound_for("room").session_id == first
    second = alice.outbound_for("room", member_device_count_changed=True).session_id
    assert second != first
    for n in range(99):
        alice.encrypt_message("room", {"n": n})
    alice = reopen(alice)
    assert alice.encrypt_message("room", {"n": 99})["session_id"] == second
    assert alice.encrypt_message("room", {"n": 100})["session_id"] != second


def test_room_key_payload_shape(tmp_path: Path) -> None:
    alice = new_device(tmp_path, "alice", "A1")
    payload = alice.room_key_payload("room")
    assert payload["type"] == "m.room_key"
    assert payload["algorithm"] == "megolm.v1.aes-sha2"
    assert payload["conversation_id"] == "room"
    assert payload["session_id"] == alice.outbound_for("room").session_id
    assert payload["session_key"] == alice.outbound_for("room").session_key.to_base64()


def test_unshared_devices_tracks_who_got_the_current_key(tmp_path: Path) -> None:
    alice, bob = new_device(tmp_path, "alice", "A1"), new_device(tmp_path, "bob", "B1")
    introduce(alice, bob)
    peer = alice.get_peer_device("bob", "B1")
    assert peer is not None
    assert alice.unshared_devices("room", [peer]) == [peer]
    alice.mark_room_key_shared("room", [peer])
    assert alice.unshared_devices("room", [peer]) == []
    alice.outbound_for("room", member_device_count_changed=True)
    assert alice.unshared_devices("room", [peer]) == [peer]
