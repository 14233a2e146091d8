"""Errors of the keys domain, each with a stable code."""

from __future__ import annotations

from courtyard.core.errors import Conflict, InvalidInput, PermissionDenied


class NotYourDevice(PermissionDenied):
    code = "not_your_device"
    title = "Only a device can upload its own keys"


class DeviceKeysImmutable(Conflict):
    code = "device_keys_immutable"
    title = "This device's identity keys are already on file and cannot change"


class DeviceKeysMissing(InvalidInput):
    code = "device_keys_missing"
    title = "Upload the device keys before (or with) its one-time and fallback keys"


class BadSignature(InvalidInput):
    code = "bad_signature"
    title = "A signature does not verify with the device's Ed25519 key"


class InvalidKey(InvalidInput):
    code = "invalid_key"
    title = "A key is not an unpadded base64 32-byte key in canonical form"


class LowOrderKey(InvalidInput):
    code = "low_order_key"
    title = "A Curve25519 key is a point of small order"


class KeyIdIsDeviceId(InvalidInput):
    code = "key_id_is_device_id"
    title = "A key id or key may not equal the device id"


class TooManyOneTimeKeys(InvalidInput):
    code = "too_many_one_time_keys"
    title = "Too many one-time keys"


class KeyIdReused(Conflict):
    code = "key_id_reused"
    title = "That key id is already on file with another key"
