"""Device keys: identity keys, one-time keys and fallback keys, uploaded, queried, claimed."""

from courtyard.domains.keys.erasure import erase_keys_user
from courtyard.domains.keys.errors import (
    BadSignature,
    DeviceKeysImmutable,
    DeviceKeysMissing,
    InvalidKey,
    KeyIdIsDeviceId,
    KeyIdReused,
    LowOrderKey,
    NotYourDevice,
    TooManyOneTimeKeys,
)
from courtyard.domains.keys.service import KeyCounts, KeysService

__all__ = [
    "BadSignature",
    "DeviceKeysImmutable",
    "DeviceKeysMissing",
    "InvalidKey",
    "KeyCounts",
    "KeyIdIsDeviceId",
    "KeyIdReused",
    "KeysService",
    "LowOrderKey",
    "NotYourDevice",
    "TooManyOneTimeKeys",
    "erase_keys_user",
]
