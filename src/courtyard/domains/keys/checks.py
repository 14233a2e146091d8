"""The rules an upload must pass before it touches the database (docs/messaging.md)."""

from __future__ import annotations

from collections.abc import Sequence

from courtyard.domains.accounts import Identity
from courtyard.domains.keys.canonical import check_signature, ed25519_key
from courtyard.domains.keys.curve import check_curve25519_key
from courtyard.domains.keys.errors import (
    InvalidKey,
    KeyIdIsDeviceId,
    KeyIdReused,
    NotYourDevice,
    TooManyOneTimeKeys,
)
from courtyard.domains.keys.schemas import DeviceKeysObject, OneTimeKeyObject

MAX_ONE_TIME_KEYS_PER_UPLOAD = 50


def check_owner(identity: Identity, user_id: str, device_id: str) -> None:
    """Only the device itself may upload keys naming it."""
    if (user_id, device_id) != (identity.user_id, identity.device_id):
        raise NotYourDevice()


def check_not_device_id(device_id: str, *values: str) -> None:
    """Refuse a key id or key equal to the device id (the attack the Matrix paper describes)."""
    if device_id in values:
        raise KeyIdIsDeviceId()


def check_device_keys(identity: Identity, device_keys: DeviceKeysObject) -> None:
    """Owner, well-formed keys, no small-order key, and a valid self-signature."""
    check_owner(identity, device_keys.user_id, device_keys.device_id)
    keys = device_keys.keys
    check_not_device_id(device_keys.device_id, keys.curve25519, keys.ed25519)
    check_curve25519_key(keys.curve25519)
    check_signature(device_keys.model_dump(), ed25519_key(keys.ed25519))


def check_one_time_key(identity: Identity, otk: OneTimeKeyObject, *, fallback: bool) -> None:
    """Owner, the right ``fallback`` flag, no id equal to the device id, a good key."""
    check_owner(identity, otk.user_id, otk.device_id)
    if otk.fallback is not fallback:
        raise InvalidKey(f"this key must say fallback: {str(fallback).lower()}")
    check_not_device_id(otk.device_id, otk.key_id, otk.key)
    check_curve25519_key(otk.key)


def unique_one_time_keys(otks: Sequence[OneTimeKeyObject]) -> list[OneTimeKeyObject]:
    """Drop repeats of one key id with the same key; refuse one key id with two keys."""
    if len(otks) > MAX_ONE_TIME_KEYS_PER_UPLOAD:
        raise TooManyOneTimeKeys(f"at most {MAX_ONE_TIME_KEYS_PER_UPLOAD} keys per upload")
    seen: dict[str, OneTimeKeyObject] = {}
    for otk in otks:
        earlier = seen.setdefault(otk.key_id, otk)
        if earlier.key != otk.key:
            raise KeyIdReused(f"key id {otk.key_id!r} appears with two keys")
    return list(seen.values())
