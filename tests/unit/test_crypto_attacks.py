"""Refusals from Albrecht et al. (IEEE S&P 2023) and the binding checks around them: a
malicious server cannot inject keys, replay messages, slip in devices or swap identities."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from vodozemac import Account

from courtyard.client.crypto import (
    BadSignature,
    ConversationMismatch,
    DeviceCrypto,
    DeviceIdIsKeyId,
    IdentityKeyChanged,
    KeyAlreadyBound,
    LowOrderKey,
    MissingSessionKey,
    NotForThisDevice,
    NotOlmEncrypted,
    ReplayedMessage,
    SenderMismatch,
    UnrequestedForwardedKey,
    canonical_json,
    is_low_order_curve25519,
    sign_object,
)
from tests.unit.crypto_support import (
    connect,
    introduce,
    new_device,
    reopen,
    send_to_device,
    share_room_key,
)

P = 2**255 - 19
# u-coordinates of the small-order points of Curve25519 and its twist (RFC 7748 encodings),
# and non-canonical encodings of some of them (u + p, and the ignored top bit set).
LOW_ORDER_U = [
    0,
    1,
    325606250916557431795983626356110631294008115727848805560023387167927233504,
    39382357235489614581723060781553021112529911719440698176882885853963445705823,
    P - 1,
    P,
    P + 1,
    1 | (1 << 255),
    (P - 1) | (1 << 255),
]


def b64(u: int) -> str:
    return base64.b64encode(u.to_bytes(32, "little")).decode().rstrip("=")


def device_keys(
    account: Account, user_id: str, device_id: str, curve: str | None = None
) -> dict[str, Any]:
    keys = {
        "curve25519": curve or account.curve25519_key.to_base64(),
        "ed25519": account.ed25519_key.to_base64(),
    }
    body = {"user_id": user_id, "device_id": device_id, "algorithms": [], "keys": keys}
    return sign_object(account, body)


@pytest.fixture
def trio(tmp_path: Path) -> tuple[DeviceCrypto, DeviceCrypto, DeviceCrypto]:
    alice, bob, carol = (new_device(tmp_path, u, "D") for u in ("alice", "bob", "carol"))
    introduce(alice, bob, carol)
    for sender in (alice, bob, carol):
        for recipient in (alice, bob, carol):
            if sender is not recipient:
                connect(sender, recipient)
    return alice, bob, carol


# (a) room keys and to-device payloads must arrive inside Olm -----------------------------


def test_room_key_not_inside_olm_is_refused(trio: tuple[DeviceCrypto, ...]) -> None:
    alice, bob, _ = trio
    with pytest.raises(NotOlmEncrypted):
        bob.receive_room_key(
            "alice", "D", alice.room_key_payload("room"), via_olm_from_curve25519=None
        )
    envelope = alice.encrypt_message("room", {"body": "x"})
    # Nothing was stored: Bob still cannot read the conversation.
    with pytest.raises(MissingSessionKey):
        bob.decrypt_message("room", "$e", "alice", envelope)


def test_room_key_megolm_wrapped_is_refused(trio: tuple[DeviceCrypto, ...]) -> None:
    alice, bob, _ = trio
    share_room_key(alice, bob, "room")
    # The server (or a member) sends a room key as a Megolm conversation message instead.
    wrapped = alice.encrypt_message("room", alice.room_key_payload("other"))
    payload = bob.decrypt_message("room", "$e", "alice", wrapped)
    with pytest.raises(NotOlmEncrypted):
        bob.receive_room_key("alice", "D", payload, via_olm_from_curve25519=None)


def test_to_device_payload_that_is_not_olm_is_refused(trio: tuple[DeviceCrypto, ...]) -> None:
    _, bob, _ = trio
    for envelope in (
        {"type": "m.room_key", "session_key": "x"},
        {"algorithm": "megolm.v1.aes-sha2", "ciphertext": "x"},
    ):
        with pytest.raises(NotOlmEncrypted):
            bob.decrypt_to_device("alice", "D", envelope)


def test_room_key_from_another_device_than_its_olm_sender_is_refused(
    trio: tuple[DeviceCrypto, ...],
) -> None:
    _, bob, carol = trio
    payload = send_to_device(carol, bob, carol.room_key_payload("room"))
    with pytest.raises(SenderMismatch):
        bob.receive_room_key(
            "alice", "D", payload, via_olm_from_curve25519=carol.identity_keys()["curve25519"]
        )


# (b) forwarded keys only if requested, and only from our verified devices ---------------


@pytest.fixture
def alice_two_devices(
    tmp_path: Path,
) -> tuple[DeviceCrypto, DeviceCrypto, DeviceCrypto]:
    bob = new_device(tmp_path, "bob", "B1")
    a1, a2 = new_device(tmp_path, "alice", "A1"), new_device(tmp_path, "alice", "A2")
    introduce(bob, a1, a2)
    for sender, recipient in ((bob, a1), (a1, a2)):
        connect(sender, recipient)
    share_room_key(bob, a1, "room")
    return bob, a1, a2


def forward(a1: DeviceCrypto, a2: DeviceCrypto, bob: DeviceCrypto) -> Any:
    session_id = bob.outbound_for("room").session_id
    bob_key = bob.identity_keys()["curve25519"]
    payload = send_to_device(a1, a2, a1.forwarded_room_key_payload(bob_key, session_id))
    return a2.receive_room_key(
        "alice", "A1", payload, via_olm_from_curve25519=a1.identity_keys()["curve25519"]
    )


def test_unrequested_forwarded_key_is_refused(
    alice_two_devices: tuple[DeviceCrypto, ...],
) -> None:
    bob, a1, a2 = alice_two_devices
    a2.mark_verified("alice", "A1")
    with pytest.raises(UnrequestedForwardedKey):
        forward(a1, a2, bob)


def test_requested_forwarded_key_is_accepted_and_marked_forwarded(
    alice_two_devices: tuple[DeviceCrypto, ...],
) -> None:
    bob, a1, a2 = alice_two_devices
    a2.mark_verified("alice", "A1")
    envelope = bob.encrypt_message("room", {"body": "for both of alice's devices"})
    a2.request_room_key("room", envelope["sender_key"], envelope["session_id"])
    record = forward(a1, a2, bob)
    assert record.forwarded is True
    assert (record.sender_user_id, record.sender_device_id) == ("bob", "B1")
    assert a2.decrypt_message("room", "$e", "bob", envelope) == {
        "body": "for both of alice's devices"
    }
    # The request is spent: the same forward again is unrequested.
    with pytest.raises(UnrequestedForwardedKey):
        forward(a1, a2, bob)


def test_forward_from_an_unverified_own_device_is_refused(
    alice_two_devices: tuple[DeviceCrypto, ...],
) -> None:
    bob, a1, a2 = alice_two_devices
    session_id = bob.outbound_for("room").session_id
    a2.request_room_key("room", bob.identity_keys()["curve25519"], session_id)
    with pytest.raises(UnrequestedForwardedKey):
        forward(a1, a2, bob)


def test_forward_for_another_conversation_than_requested_is_refused(
    alice_two_devices: tuple[DeviceCrypto, ...],
) -> None:
    bob, a1, a2 = alice_two_devices
    a2.mark_verified("alice", "A1")
    session_id = bob.outbound_for("room").session_id
    a2.request_room_key("elsewhere", bob.identity_keys()["curve25519"], session_id)
    with pytest.raises(UnrequestedForwardedKey):
        forward(a1, a2, bob)


# (c) a Megolm index is accepted once ----------------------------------------------------


def test_replayed_megolm_index_is_refused_and_same_event_is_idempotent(
    tmp_path: Path, trio: tuple[DeviceCrypto, ...]
) -> None:
    alice, bob, _ = trio
    share_room_key(alice, bob, "room")
    envelope = alice.encrypt_message("room", {"body": "pay 10"})
    assert bob.decrypt_message("room", "$e1", "alice", envelope) == {"body": "pay 10"}
    assert bob.decrypt_message("room", "$e1", "alice", envelope) == {"body": "pay 10"}
    with pytest.raises(ReplayedMessage) as caught:
        bob.decrypt_message("room", "$e2", "alice", envelope)
    assert (caught.value.message_index, caught.value.first_event_id) == (0, "$e1")
    bob = reopen(bob)
    with pytest.raises(ReplayedMessage):
        bob.decrypt_message("room", "$e3", "alice", envelope)


def test_megolm_message_moved_to_another_conversation_is_refused(
    trio: tuple[DeviceCrypto, ...],
) -> None:
    alice, bob, _ = trio
    share_room_key(alice, bob, "room")
    envelope = alice.encrypt_message("room", {"body": "x"})
    with pytest.raises(ConversationMismatch):
        bob.decrypt_message("other-room", "$e1", "alice", envelope)


def test_megolm_plaintext_for_another_conversation_is_refused(
    trio: tuple[DeviceCrypto, ...],
) -> None:
    alice, bob, _ = trio
    share_room_key(alice, bob, "room")
    envelope = alice.encrypt_message("room", {"body": "x"})
    # A malicious member encrypts a message naming another conversation in its own session.
    record = alice.store.get_outbound("room")
    assert record is not None
    inner = {"conversation_id": "other", "sender": "alice", "sender_device": "D", "content": {}}
    forged = {**envelope, "ciphertext": record.session.encrypt(canonical_json(inner)).to_base64()}
    with pytest.raises(ConversationMismatch):
        bob.decrypt_message("room", "$e2", "alice", forged)


# (d) low-order Curve25519 keys -----------------------------------------------------------


@pytest.mark.parametrize("u", LOW_ORDER_U)
def test_low_order_points_are_detected(u: int) -> None:
    assert is_low_order_curve25519(u.to_bytes(32, "little"))


def test_ordinary_keys_are_not_low_order() -> None:
    for _ in range(20):
        assert not is_low_order_curve25519(Account().curve25519_key.to_bytes())
    assert not is_low_order_curve25519((9).to_bytes(32, "little"))  # the base point


@pytest.mark.parametrize("u", LOW_ORDER_U[:5])
def test_device_with_low_order_identity_key_is_refused(tmp_path: Path, u: int) -> None:
    alice = new_device(tmp_path, "alice", "A1")
    with pytest.raises(LowOrderKey):
        alice.add_peer_device(device_keys(Account(), "mallory", "M1", curve=b64(u)))
    assert alice.get_peer_device("mallory", "M1") is None


def test_low_order_one_time_key_is_refused(trio: tuple[DeviceCrypto, ...]) -> None:
    alice, bob, _ = trio
    otk = sign_object(
        bob.account,
        {"key_id": "AAAA", "key": b64(1), "user_id": "bob", "device_id": "D", "fallback": False},
    )
    with pytest.raises(LowOrderKey):
        alice.start_session(bob.identity_keys()["curve25519"], otk)


# (e) devices the server adds are not trusted silently ------------------------------------


def test_new_device_of_a_user_is_unverified_and_needs_a_warning(tmp_path: Path) -> None:
    alice, bob = new_device(tmp_path, "alice", "A1"), new_device(tmp_path, "bob", "B1")
    alice.add_peer_device(bob.device_keys_payload())
    alice.mark_verified("bob", "B1")
    ghost = device_keys(Account(), "bob", "GHOST")
    plan = alice.devices_to_share_with(
        [alice.device_keys_payload(), bob.device_keys_payload(), ghost]
    )
    assert [(p.user_id, p.device_id) for p in plan.share] == [("bob", "B1"), ("bob", "GHOST")]
    assert [(p.user_id, p.device_id) for p in plan.warn] == [("bob", "GHOST")]
    assert [(p.user_id, p.device_id) for p in plan.new] == [("bob", "GHOST")]
    assert plan.refused == []
    stored = alice.get_peer_device("bob", "GHOST")
    assert stored is not None
    assert stored.verified is False
    # Seen again, it is no longer new but still needs a warning until verified.
    again = alice.devices_to_share_with([ghost])
    assert (again.new, [p.device_id for p in again.warn]) == ([], ["GHOST"])


def test_changed_identity_key_for_a_known_device_is_refused(tmp_path: Path) -> None:
    alice, bob = new_device(tmp_path, "alice", "A1"), new_device(tmp_path, "bob", "B1")
    alice.add_peer_device(bob.device_keys_payload())
    impostor = device_keys(Account(), "bob", "B1")
    with pytest.raises(IdentityKeyChanged):
        alice.add_peer_device(impostor)
    plan = alice.devices_to_share_with([impostor])
    assert plan.share == []
    assert isinstance(plan.refused[0].error, IdentityKeyChanged)
    peer = alice.get_peer_device("bob", "B1")
    assert peer is not None
    assert peer.curve25519 == bob.identity_keys()["curve25519"]


def test_device_keys_checks(tmp_path: Path) -> None:
    alice = new_device(tmp_path, "alice", "A1")
    account = Account()
    curve = account.curve25519_key.to_base64()
    for device_id in ("ed25519", "curve25519", curve):
        with pytest.raises(DeviceIdIsKeyId):
            alice.add_peer_device(device_keys(account, "mallory", device_id))
    good = device_keys(account, "mallory", "M1")
    with pytest.raises(BadSignature):
        alice.add_peer_device({**good, "user_id": "bob"})
    with pytest.raises(SenderMismatch):
        alice.add_peer_device(good, expected_user_id="bob")
    alice.add_peer_device(good)
    # The same identity key under another device name is refused.
    with pytest.raises(KeyAlreadyBound):
        alice.add_peer_device(sign_object(account, {**good, "device_id": "M2", "signature": ""}))


# (f) the Olm plaintext names its sender and recipient -----------------------------------


def crafted(
    sender: DeviceCrypto, recipient: DeviceCrypto, changes: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An Olm envelope whose inner plaintext is tampered with by a malicious sender."""
    inner = {
        "type": "m.test",
        "content": {},
        "sender": sender.user_id,
        "sender_device": sender.device_id,
        "keys": {"ed25519": sender.identity_keys()["ed25519"]},
        "recipient": recipient.user_id,
        "recipient_keys": {"ed25519": recipient.identity_keys()["ed25519"]},
        **(changes or {}),
    }
    curve = recipient.identity_keys()["curve25519"]
    session = sender.store.olm_sessions(curve)[0]
    message_type, body = session.encrypt(canonical_json(inner)).to_parts()
    with sender.store.transaction():
        sender.store.save_olm_session(curve, session, sender.clock())
    return {
        "algorithm": "olm.v1.curve25519-aes-sha2",
        "sender_key": sender.identity_keys()["curve25519"],
        "ciphertext": {curve: {"type": message_type, "body": base64.b64encode(body).decode()}},
    }


def test_untampered_crafted_envelope_is_accepted(trio: tuple[DeviceCrypto, ...]) -> None:
    alice, bob, _ = trio
    assert bob.decrypt_to_device("alice", "D", crafted(alice, bob)) == {"type": "m.test"}


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"recipient_keys": {"ed25519": "carol"}}, NotForThisDevice),
        ({"recipient": "carol"}, NotForThisDevice),
        ({"sender": "carol"}, SenderMismatch),
        ({"sender_device": "OTHER"}, SenderMismatch),
        ({"keys": {"ed25519": "carol"}}, SenderMismatch),
    ],
)
def test_tampered_to_device_bindings_are_refused(
    trio: tuple[DeviceCrypto, ...], change: dict[str, Any], error: type[Exception]
) -> None:
    alice, bob, carol = trio
    if "recipient_keys" in change:
        change = {"recipient_keys": {"ed25519": carol.identity_keys()["ed25519"]}}
    if "keys" in change:
        change = {"keys": {"ed25519": carol.identity_keys()["ed25519"]}}
    with pytest.raises(error):
        bob.decrypt_to_device("alice", "D", crafted(alice, bob, change))
    # The refusal left Bob's sessions intact: the next honest message still decrypts.
    assert send_to_device(alice, bob, {"type": "ok"}) == {"type": "ok"}


def test_envelope_relabelled_with_another_sender_is_refused(
    trio: tuple[DeviceCrypto, ...],
) -> None:
    alice, bob, carol = trio
    envelope = carol.encrypt_to_device("bob", "D", {"type": "m.test"})
    with pytest.raises(SenderMismatch):
        bob.decrypt_to_device("alice", "D", envelope)
    relabelled = {**envelope, "sender_key": alice.identity_keys()["curve25519"]}
    with pytest.raises(SenderMismatch):
        bob.decrypt_to_device("carol", "D", relabelled)


def test_envelope_for_another_device_is_refused(trio: tuple[DeviceCrypto, ...]) -> None:
    alice, bob, carol = trio
    envelope = alice.encrypt_to_device("carol", "D", {"type": "m.test"})
    with pytest.raises(NotForThisDevice):
        bob.decrypt_to_device("alice", "D", envelope)
    assert carol.decrypt_to_device("alice", "D", envelope) == {"type": "m.test"}
