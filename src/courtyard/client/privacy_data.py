"""Your data: export it (JSON or HTML), read the access log of who touched it (docs/data-map.md).
Privacy mixes this in."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

from courtyard.client.errors import ProtocolError
from courtyard.client.models import parse_time

if TYPE_CHECKING:
    from courtyard.client.client import Client


@dataclass(frozen=True, slots=True)
class AccessLogEntry:
    """One access to your data, from the server's audit log (``seq`` is its position)."""

    seq: int
    at: dt.datetime
    actor: str
    actor_kind: str
    action: str
    target: str
    note: str | None
    detail: dict[str, Any] | None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> AccessLogEntry:
        return cls(
            seq=int(data["seq"]),
            at=parse_time(data["at"]),
            actor=str(data["actor"]),
            actor_kind=str(data["actor_kind"]),
            action=str(data["action"]),
            target=str(data["target"]),
            note=data.get("note"),
            detail=data.get("detail"),
        )


@dataclass(frozen=True, slots=True)
class AccessLogPage:
    """Entries newest first; pass ``next_before`` as ``before`` for older ones (None: the end)."""

    entries: list[AccessLogEntry]
    next_before: int | None


class PrivacyData:
    """Methods of ``client.privacy``."""

    client: Client

    @overload
    async def export(self, format: Literal["json"] = "json") -> dict[str, Any]: ...

    @overload
    async def export(self, format: Literal["html"]) -> str: ...

    async def export(self, format: Literal["json", "html"] = "json") -> dict[str, Any] | str:
        """Everything the server holds about you: a dict (``format="json"``, with its
        ``manifest`` and ``data``) or one readable HTML page. Recorded in your access log."""
        response = await self.client._send(
            "GET", "/v1/privacy/export", params={"format": format}, timeout=120.0
        )
        if format == "html":
            return response.text
        try:
            body = response.json()
        except ValueError:
            raise ProtocolError("the export is not JSON") from None
        if not isinstance(body, dict) or "manifest" not in body:
            raise ProtocolError("the export has no manifest")
        return body

    async def access_log(self, *, before: int | None = None, limit: int = 50) -> AccessLogPage:
        """Who accessed your data, newest first (operators, mini-apps, the legal desk, your
        own exports)."""
        params: dict[str, str | int] = {"limit": limit}
        if before is not None:
            params["before"] = before
        data = await self.client._call("GET", "/v1/privacy/access-log", params=params)
        try:
            entries = [AccessLogEntry.from_wire(e) for e in data["entries"]]
            after = data["next_before"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"malformed access log: {exc!r}") from None
        return AccessLogPage(entries, None if after is None else int(after))
