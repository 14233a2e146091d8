"""The raw conversation and to-device endpoints, one function per server route.

These carry ciphertext only; encrypting and decrypting is the ``Messenger``'s part.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from courtyard.client.client import Client
from courtyard.client.errors import ProtocolError
from courtyard.client.models import parse_time

Kind = Literal["direct", "group"]
T = TypeVar("T")


@dataclass(frozen=True)
class Member:
    user_id: str
    state: str  # "invited" or "joined"
    role: str  # "owner", "admin" or "member"
    username: str = ""
    display_name: str = ""
    admission: Mapping[str, Any] | None = field(default=None, hash=False, compare=False)

    @property
    def label(self) -> str:
        """How to show this member: display name, else username, else the id."""
        return self.display_name or self.username or self.user_id


@dataclass(frozen=True)
class Conversation:
    """A conversation as the server sees it: who is in it, never what was said."""

    conversation_id: str
    kind: str
    name: str | None
    created_by: str
    created_at: dt.datetime
    last_seq: int
    members: list[Member] = field(hash=False)

    def label_of(self, user_id: str) -> str:
        """A member's display name (or the id of someone no longer here)."""
        return next((m.label for m in self.members if m.user_id == user_id), user_id)

    @property
    def joined(self) -> list[str]:
        return [m.user_id for m in self.members if m.state == "joined"]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Conversation:
        return cls(
            conversation_id=str(data["conversation_id"]),
            kind=str(data["kind"]),
            name=None if data.get("name") is None else str(data["name"]),
            created_by=str(data["created_by"]),
            created_at=parse_time(data["created_at"]),
            last_seq=int(data["last_seq"]),
            members=[
                Member(
                    str(m["user_id"]),
                    str(m["state"]),
                    str(m["role"]),
                    str(m.get("username", "")),
                    str(m.get("display_name", "")),
                    m.get("admission") if isinstance(m.get("admission"), Mapping) else None,
                )
                for m in data["members"]
            ],
        )


@dataclass(frozen=True)
class TimelineEvent:
    """One timeline entry: ``m.encrypted`` (Megolm envelope), ``m.member``, ``m.recall``, …"""

    conversation_id: str
    seq: int
    event_id: str
    type: str
    sender_user_id: str
    sender_device_id: str | None
    content: Mapping[str, Any] = field(hash=False)
    recalled: bool
    created_at: dt.datetime

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> TimelineEvent:
        content = data["content"]
        if not isinstance(content, Mapping):
            raise TypeError("content is not an object")
        device = data.get("sender_device_id")
        return cls(
            conversation_id=str(data["conversation_id"]),
            seq=int(data["seq"]),
            event_id=str(data["event_id"]),
            type=str(data["type"]),
            sender_user_id=str(data["sender_user_id"]),
            sender_device_id=None if device is None else str(device),
            content=dict(content),
            recalled=bool(data["recalled"]),
            created_at=parse_time(data["created_at"]),
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "seq": self.seq,
            "event_id": self.event_id,
            "type": self.type,
            "sender_user_id": self.sender_user_id,
            "sender_device_id": self.sender_device_id,
            "content": dict(self.content),
            "recalled": self.recalled,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class SentEvent:
    seq: int
    event_id: str
    replayed: bool


@dataclass(frozen=True)
class ToDeviceResult:
    queued: int
    undelivered: list[tuple[str, str]]
    replayed: bool


async def create_conversation(
    client: Client,
    kind: Kind,
    members: list[str],
    name: str | None = None,
    *,
    conversation_id: str | None = None,
    admission: Mapping[str, Any] | None = None,
) -> Conversation:
    """Start a 1:1 (returns the existing one) or a group whose other members are invited."""
    body: dict[str, Any] = {"kind": kind, "members": members}
    if name is not None:
        body["name"] = name
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    if admission is not None:
        body["admission"] = dict(admission)
    return _parse(Conversation.from_wire, await client._call("POST", _BASE, json=body))


async def list_conversations(client: Client) -> list[Conversation]:
    data = await client._call("GET", _BASE)
    if not isinstance(data, list):
        raise ProtocolError("the conversation list is not a list")
    return [_parse(Conversation.from_wire, item) for item in data]


async def get_conversation(client: Client, conversation_id: str) -> Conversation:
    return _parse(Conversation.from_wire, await client._call("GET", _path(conversation_id)))


async def rename(client: Client, conversation_id: str, name: str) -> None:
    await client._call("PATCH", _path(conversation_id), json={"name": name})


async def invite(
    client: Client,
    conversation_id: str,
    user_ids: list[str],
    admission: Mapping[str, Any] | None = None,
) -> None:
    body: dict[str, Any] = {"user_ids": user_ids}
    if admission is not None:
        body["admission"] = dict(admission)
    await client._call("POST", _path(conversation_id, "members"), json=body)


async def join(client: Client, conversation_id: str) -> None:
    await client._call("POST", _path(conversation_id, "join"))


async def leave(client: Client, conversation_id: str) -> None:
    await client._call("POST", _path(conversation_id, "leave"))


async def remove_member(client: Client, conversation_id: str, user_id: str) -> None:
    await client._call("DELETE", _path(conversation_id, "members", user_id))


async def set_role(
    client: Client, conversation_id: str, user_id: str, role: Literal["admin", "member"]
) -> None:
    path = _path(conversation_id, "members", user_id, "role")
    await client._call("PUT", path, json={"role": role})


async def send_message(
    client: Client, conversation_id: str, txn_id: str, envelope: Mapping[str, Any]
) -> SentEvent:
    """Send a Megolm envelope; the same ``txn_id`` again returns the first result.

    Goes on the sync socket when ``client.events()`` has one open, else (or if the socket
    cannot carry it) as an HTTP request with the same ``txn_id``.
    """
    data = await client.socket_sends.send(conversation_id, txn_id, envelope, client.timeout)
    if data is None:
        body = {"txn_id": txn_id, "content": dict(envelope)}
        data = await client._call("POST", _path(conversation_id, "messages"), json=body)
    return _parse(lambda d: SentEvent(int(d["seq"]), str(d["event_id"]), bool(d["replayed"])), data)


async def history(
    client: Client,
    conversation_id: str,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int = 50,
) -> tuple[list[TimelineEvent], bool]:
    """A page of the timeline (from the caller's join on) and whether there is more."""
    params = {"limit": limit}
    if before is not None:
        params["before"] = before
    if after is not None:
        params["after"] = after
    data = await client._call("GET", _path(conversation_id, "messages"), params=params)

    def parse(d: Any) -> tuple[list[TimelineEvent], bool]:
        return [TimelineEvent.from_wire(e) for e in d["events"]], bool(d["has_more"])

    return _parse(parse, data)


async def recall(client: Client, conversation_id: str, seq: int) -> None:
    await client._call("POST", _path(conversation_id, "messages", str(seq), "recall"))


async def mark_read(client: Client, conversation_id: str, seq: int) -> None:
    await client._call("POST", _path(conversation_id, "read"), json={"seq": seq})


async def typing(client: Client, conversation_id: str, is_typing: bool) -> None:
    await client._call("POST", _path(conversation_id, "typing"), json={"typing": is_typing})


async def send_to_device(
    client: Client, txn_id: str, messages: list[tuple[str, str, Mapping[str, Any]]]
) -> ToDeviceResult:
    """Queue Olm envelopes, each ``(user_id, device_id, envelope)``; retry-safe per txn id."""
    body = {
        "txn_id": txn_id,
        "messages": [{"user_id": u, "device_id": d, "content": dict(c)} for u, d, c in messages],
    }
    data = await client._call("POST", "/v1/to-device", json=body)

    def parse(d: Any) -> ToDeviceResult:
        missing = [(str(x["user_id"]), str(x["device_id"])) for x in d["undelivered"]]
        return ToDeviceResult(int(d["queued"]), missing, bool(d["replayed"]))

    return _parse(parse, data)


_BASE = "/v1/conversations"


def _path(conversation_id: str, *rest: str) -> str:
    return "/".join([_BASE, *(quote(part, safe="") for part in (conversation_id, *rest))])


def _parse(parse: Callable[[Any], T], data: Any) -> T:
    try:
        return parse(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"malformed response: {exc!r}") from None
