"""Wire shapes of the conversations API."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from courtyard.core.wire import PlainText, WireId

MAX_MEMBERS = 500
B64 = r"^[A-Za-z0-9+/]+={0,2}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MegolmEnvelope(_Strict):
    """What a device sends to a conversation: Megolm ciphertext and how to find its key."""

    algorithm: Literal["megolm.v1.aes-sha2"]
    sender_key: str = Field(pattern=B64, min_length=43, max_length=44)
    session_id: str = Field(pattern=B64, min_length=43, max_length=44)
    device_id: WireId
    ciphertext: str = Field(pattern=B64, min_length=1, max_length=262_144)


class Admission(_Strict):
    """A member device's signed say-so that users may join: what lets the other members'
    devices check that no one was added by the server alone (see docs/messaging.md)."""

    conversation_id: WireId
    action: Literal["create", "invite"]
    user_ids: list[WireId] = Field(min_length=1, max_length=MAX_MEMBERS)
    by_user: WireId
    by_device: WireId
    signature: str = Field(pattern=B64, min_length=1, max_length=200)


class CreateConversation(_Strict):
    conversation_id: WireId | None = Field(
        default=None,
        description="A new id chosen by the client, so it can sign the admission; "
        "default: the server picks one.",
    )
    admission: Admission | None = Field(
        default=None,
        description="For groups: the creator's signed `create` admission of everyone.",
    )
    kind: Literal["direct", "group"]
    members: list[WireId] = Field(
        min_length=1,
        max_length=MAX_MEMBERS - 1,
        description="User ids to add (direct: exactly one). Group members are invited.",
    )
    name: PlainText | None = Field(default=None, min_length=1, max_length=200)


class Rename(_Strict):
    name: PlainText = Field(min_length=1, max_length=200)


class Invite(_Strict):
    user_ids: list[WireId] = Field(min_length=1, max_length=MAX_MEMBERS - 1)
    admission: Admission | None = Field(
        default=None, description="The inviter's signed `invite` admission of `user_ids`."
    )


class SetRole(_Strict):
    role: Literal["admin", "member"]


class SendMessage(_Strict):
    txn_id: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._~-]+$",
        description="Unique per sending device; a retry with the same id lands once.",
    )  # fmt: skip
    content: dict[str, Any] = Field(
        description="A Megolm envelope (schema `MegolmEnvelope`); anything else is refused "
        "with `not_megolm_encrypted`."
    )


class ReadReceipt(_Strict):
    seq: int = Field(ge=1, le=2**62)


class Typing(_Strict):
    typing: bool


class MemberOut(BaseModel):
    user_id: str
    username: str = Field(description="Empty if the account no longer exists.")
    display_name: str
    admission: dict[str, Any] | None = Field(
        default=None, description="The signed admission that brought this member in, if any."
    )
    state: Literal["invited", "joined"]
    role: Literal["owner", "admin", "member"]


class ConversationOut(BaseModel):
    conversation_id: str
    kind: Literal["direct", "group"]
    name: str | None
    created_by: str
    created_at: dt.datetime
    last_seq: int
    members: list[MemberOut]


class EventOut(BaseModel):
    conversation_id: str
    seq: int
    event_id: str
    type: str = Field(examples=["m.encrypted", "m.member", "m.name", "m.role", "m.recall"])
    sender_user_id: str
    sender_device_id: str | None
    content: dict[str, Any]
    recalled: bool
    created_at: dt.datetime


class SentOut(BaseModel):
    seq: int
    event_id: str
    replayed: bool


class HistoryOut(BaseModel):
    events: list[EventOut]
    has_more: bool = Field(description="More events exist in the paging direction.")
