"""Helpers for the crypto-core tests: fast stores, devices that know each other, a clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from courtyard.client.crypto import CryptoStore, DeviceCrypto, KdfParams

# Cheap argon2id for tests only; the default (m=64 MiB, t=3) is what devices use.
FAST_KDF = KdfParams(time_cost=1, memory_cost_kib=8, parallelism=1)
PASSPHRASE = "correct horse battery staple"


class StepClock:
    """An aware UTC clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def new_device(
    directory: Path, user_id: str, device_id: str, clock: StepClock | None = None
) -> DeviceCrypto:
    store = CryptoStore.create(directory / f"{user_id}-{device_id}.db", PASSPHRASE, kdf=FAST_KDF)
    return DeviceCrypto(store, user_id, device_id, clock=clock or StepClock()).create()


def reopen(device: DeviceCrypto) -> DeviceCrypto:
    """Close the device's store and open it again from the file (restore from pickles)."""
    path = device.store.path
    device.store.close()
    store = CryptoStore.open(path, PASSPHRASE)
    return DeviceCrypto(store, device.user_id, device.device_id, clock=device.clock).open()


def introduce(*devices: DeviceCrypto) -> None:
    """Every device learns every other device's keys (as from ``/v1/keys/query``)."""
    for me in devices:
        for other in devices:
            if other is not me:
                me.add_peer_device(other.device_keys_payload())


def claim_key(device: DeviceCrypto) -> dict[str, Any]:
    """One freshly published one-time key of ``device`` (as from ``/v1/keys/claim``)."""
    otk = device.generate_one_time_keys(1)[0]
    device.mark_published()
    return otk


def connect(sender: DeviceCrypto, recipient: DeviceCrypto) -> None:
    """Open an outbound Olm session from ``sender`` to ``recipient``."""
    sender.start_session(recipient.identity_keys()["curve25519"], claim_key(recipient))


def send_to_device(
    sender: DeviceCrypto, recipient: DeviceCrypto, payload: dict[str, Any]
) -> dict[str, Any]:
    """Encrypt with Olm and decrypt on the other side; the decrypted payload."""
    envelope = sender.encrypt_to_device(recipient.user_id, recipient.device_id, payload)
    return recipient.decrypt_to_device(sender.user_id, sender.device_id, envelope)


def share_room_key(sender: DeviceCrypto, recipient: DeviceCrypto, conversation_id: str) -> None:
    """Send the conversation's room key over Olm and store it on the recipient."""
    envelope = sender.encrypt_to_device(
        recipient.user_id, recipient.device_id, sender.room_key_payload(conversation_id)
    )
    payload = recipient.decrypt_to_device(sender.user_id, sender.device_id, envelope)
    recipient.receive_room_key(
        sender.user_id,
        sender.device_id,
        payload,
        via_olm_from_curve25519=envelope["sender_key"],
    )
