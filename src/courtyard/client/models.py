"""What the server returns, as small immutable values parsed from the wire."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class Session:
    """A signed-in device; ``access_token`` is its secret and is kept out of ``repr``."""

    user_id: str
    username: str
    device_id: str
    access_token: str = field(repr=False)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Session:
        return cls(
            user_id=str(data["user_id"]),
            username=str(data["username"]),
            device_id=str(data["device_id"]),
            access_token=str(data["access_token"]),
        )


@dataclass(frozen=True)
class UserInfo:
    """Another user as a username lookup shows them."""

    user_id: str
    username: str
    display_name: str

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> UserInfo:
        return cls(
            user_id=str(data["user_id"]),
            username=str(data["username"]),
            display_name=str(data["display_name"]),
        )


@dataclass(frozen=True)
class Account:
    """Who a token belongs to, and which of their devices made the request."""

    user_id: str
    username: str
    display_name: str
    region: str
    device_id: str
    created_at: dt.datetime

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Account:
        return cls(
            user_id=str(data["user_id"]),
            username=str(data["username"]),
            display_name=str(data["display_name"]),
            region=str(data["region"]),
            device_id=str(data["device_id"]),
            created_at=parse_time(data["created_at"]),
        )


@dataclass(frozen=True)
class Device:
    """One device signed in to the account; ``current`` marks the one asking."""

    device_id: str
    display_name: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    current: bool

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Device:
        return cls(
            device_id=str(data["device_id"]),
            display_name=str(data["display_name"]),
            created_at=parse_time(data["created_at"]),
            last_seen_at=parse_time(data["last_seen_at"]),
            current=bool(data["current"]),
        )


@dataclass(frozen=True)
class SyncEvent:
    """One fact from the user's stream, at ``position``; ``event_id`` is unique."""

    position: int
    event_id: str
    type: str
    content: Mapping[str, Any] = field(hash=False)
    created_at: dt.datetime

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> SyncEvent:
        content = data.get("content")
        return cls(
            position=int(data["position"]),
            event_id=str(data["event_id"]),
            type=str(data["type"]),
            content=MappingProxyType(dict(content) if isinstance(content, Mapping) else {}),
            created_at=parse_time(data["created_at"]),
        )

    def to_wire(self) -> dict[str, Any]:
        """The event as the server sent it (for printing as JSON)."""
        return {
            "position": self.position,
            "event_id": self.event_id,
            "type": self.type,
            "content": dict(self.content),
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class KeyCounts:
    """What this device has on the server: unclaimed one-time keys, an unused fallback key."""

    one_time_key_count: int
    fallback_key: bool

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> KeyCounts:
        count, fallback = data["one_time_key_count"], data["fallback_key"]
        if not isinstance(count, int) or isinstance(count, bool) or not isinstance(fallback, bool):
            raise TypeError("key counts must be an integer and a boolean")
        return cls(one_time_key_count=count, fallback_key=fallback)


def parse_time(value: Any) -> dt.datetime:
    """An ISO 8601 timestamp from the wire; naive ones are taken to be UTC."""
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
