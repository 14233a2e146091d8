"""Wire shapes of the to-device API. The envelope shape is checked strictly: anything that is
not an Olm envelope is refused, so a server cannot be used to slip plaintext or Megolm
payloads between devices."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from courtyard.core.wire import WireId

OLM_ALGORITHM = "olm.v1.curve25519-aes-sha2"
CURVE_KEY_PATTERN = r"^[A-Za-z0-9+/]{43}={0,1}$"
MAX_BODY_CHARS = 65_536


class OlmCiphertext(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal[0, 1] = Field(description="0: pre-key message, 1: normal message")
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS, pattern=r"^[A-Za-z0-9+/=]+$")


class OlmEnvelope(BaseModel):
    """An Olm-encrypted payload for exactly one recipient key."""

    model_config = ConfigDict(extra="forbid")

    algorithm: Literal["olm.v1.curve25519-aes-sha2"]
    sender_key: str = Field(pattern=CURVE_KEY_PATTERN)
    ciphertext: dict[str, OlmCiphertext] = Field(min_length=1, max_length=1)

    @field_validator("ciphertext")
    @classmethod
    def _recipient_keys_look_like_keys(
        cls, value: dict[str, OlmCiphertext]
    ) -> dict[str, OlmCiphertext]:
        import re

        for key in value:
            if not re.fullmatch(CURVE_KEY_PATTERN, key):
                raise ValueError("ciphertext must be keyed by the recipient's Curve25519 key")
        return value


class ToDeviceItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: WireId
    device_id: WireId
    content: dict[str, Any] = Field(
        description="An Olm envelope: `{algorithm: 'olm.v1.curve25519-aes-sha2', sender_key, "
        "ciphertext: {<recipient curve25519>: {type: 0|1, body}}}`. Anything else is refused "
        "with `not_olm_encrypted` (schema: `OlmEnvelope` in the components).",
    )


class SendToDeviceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    txn_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._~-]+$",
        description="Unique per sending device; a retry with the same id is applied once.",
    )
    messages: list[ToDeviceItem] = Field(min_length=1, max_length=2000)


class DeviceRef(BaseModel):
    user_id: str
    device_id: str


class SendToDeviceResult(BaseModel):
    queued: int = Field(description="Messages queued by this request (0 for a replay).")
    undelivered: list[DeviceRef] = Field(
        description="Targets that are not (or no longer) devices; nothing was queued for them."
    )
    replayed: bool = Field(description="True if this txn_id was already applied.")
