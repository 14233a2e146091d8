"""Wire shapes of the keys API. Signed objects are parsed strictly (no extra fields, no type
coercion), so what the server verifies, stores and hands out is exactly what was signed."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# Printable ASCII only: ids and keys end up in SQL text and JSONB, which refuse NUL.
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
KeyId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9+/=._:-]+$")]
Base64 = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9+/=_-]+$")]
Algorithm = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]

MAX_QUERY_USERS = 100
MAX_CLAIM_DEVICES = 500


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class IdentityKeys(_Strict):
    curve25519: Base64 = Field(description="Curve25519 identity key, unpadded base64.")
    ed25519: Base64 = Field(description="Ed25519 signing key, unpadded base64.")


class DeviceKeysObject(_Strict):
    """A device's identity keys, signed by its own Ed25519 key."""

    user_id: Id
    device_id: Id
    algorithms: list[Algorithm] = Field(
        max_length=16, examples=[["olm.v1.curve25519-aes-sha2", "megolm.v1.aes-sha2"]]
    )
    keys: IdentityKeys
    signature: Base64 = Field(description="Ed25519 signature of the canonical JSON without it.")


class OneTimeKeyObject(_Strict):
    """A one-time or fallback Curve25519 key, bound to its device by the device's signature."""

    key_id: KeyId
    key: Base64 = Field(description="Curve25519 public key, unpadded base64.")
    user_id: Id
    device_id: Id
    fallback: bool = Field(description="True for the fallback key, false for one-time keys.")
    signature: Base64 = Field(description="Ed25519 signature of the canonical JSON without it.")


class UploadRequest(_Strict):
    device_keys: DeviceKeysObject | None = None
    one_time_keys: list[OneTimeKeyObject] = Field(default_factory=list, max_length=100)
    fallback_key: OneTimeKeyObject | None = None


class KeyCountsOut(BaseModel):
    one_time_key_count: int = Field(description="Unclaimed one-time keys of this device.")
    fallback_key: bool = Field(description="Whether an unused fallback key is on file.")


class QueryRequest(_Strict):
    user_ids: list[Id] = Field(max_length=MAX_QUERY_USERS)


class QueryResponse(BaseModel):
    devices: dict[str, list[DeviceKeysObject]] = Field(
        description="Per user, the device keys of every device that has uploaded them."
    )


class DeviceRef(_Strict):
    user_id: Id
    device_id: Id


class ClaimRequest(_Strict):
    devices: list[DeviceRef] = Field(max_length=MAX_CLAIM_DEVICES)


class ClaimResponse(BaseModel):
    one_time_keys: list[OneTimeKeyObject] = Field(
        description="One key per device that has any; the fallback key says fallback: true."
    )
