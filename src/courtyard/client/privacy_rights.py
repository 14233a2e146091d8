"""Your rights: erasure with its 30-day grace, complaints and notices (docs/user-rights.md).
Privacy mixes this in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from courtyard.client.errors import ProtocolError
from courtyard.client.models import parse_time

if TYPE_CHECKING:
    from courtyard.client.client import Client

T = TypeVar("T")


def _time(value: Any) -> dt.datetime | None:
    return None if value is None else parse_time(value)


@dataclass(frozen=True, slots=True)
class Erasure:
    """Your erasure request: ``pending`` until ``due_at``, ``held`` (deferred; see
    ``explanation``) or ``cancelled``."""

    status: str
    requested_at: dt.datetime
    due_at: dt.datetime
    cancellable: bool
    explanation: str | None

    @classmethod
    def from_wire(cls, data: Any) -> Erasure:
        return cls(
            status=str(data["status"]),
            requested_at=parse_time(data["requested_at"]),
            due_at=parse_time(data["due_at"]),
            cancellable=bool(data["cancellable"]),
            explanation=data.get("explanation"),
        )


@dataclass(frozen=True, slots=True)
class Complaint:
    """A complaint of yours, its deadline and, once answered, the answer."""

    complaint_id: str
    subject: str
    body: str
    status: str
    created_at: dt.datetime
    due_at: dt.datetime
    answer: str | None
    answered_at: dt.datetime | None

    @classmethod
    def from_wire(cls, data: Any) -> Complaint:
        return cls(
            complaint_id=str(data["complaint_id"]),
            subject=str(data["subject"]),
            body=str(data["body"]),
            status=str(data["status"]),
            created_at=parse_time(data["created_at"]),
            due_at=parse_time(data["due_at"]),
            answer=data.get("answer"),
            answered_at=_time(data.get("answered_at")),
        )


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice from the operator: ``legal_request``, ``complaint_answered``,
    ``policy_changed`` or ``erasure``."""

    notice_id: str
    kind: str
    title: str
    body: str
    created_at: dt.datetime

    @classmethod
    def from_wire(cls, data: Any) -> Notice:
        return cls(
            notice_id=str(data["notice_id"]),
            kind=str(data["kind"]),
            title=str(data["title"]),
            body=str(data["body"]),
            created_at=parse_time(data["created_at"]),
        )


def _parse(build: Callable[[Any], T], data: Any, what: str) -> T:
    try:
        return build(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"malformed {what}: {exc!r}") from None


class PrivacyRights:
    """Methods of ``client.privacy``."""

    client: Client

    async def request_erasure(self, password: str) -> Erasure:
        """Ask for your account to be erased in 30 days (your password, asked again).
        ``ApiError`` ``wallet_not_empty`` (its ``extra`` has ``balances`` and ``in_flight``)
        while money is in or on its way to your wallet; ``erasure_pending`` if asked already."""
        data = await self.client._call("POST", "/v1/privacy/erasure", json={"password": password})
        return _parse(Erasure.from_wire, data, "erasure")

    async def erasure(self) -> Erasure:
        """Your erasure request; ``ApiError`` ``erasure_not_found`` if you made none."""
        return _parse(
            Erasure.from_wire, await self.client._call("GET", "/v1/privacy/erasure"), "erasure"
        )

    async def cancel_erasure(self) -> Erasure:
        """Cancel your erasure request (pending or held): your account stays."""
        data = await self.client._call("DELETE", "/v1/privacy/erasure")
        return _parse(Erasure.from_wire, data, "erasure")

    async def complain(self, subject: str, body: str) -> Complaint:
        """Complain about how your data is handled; the answer comes as a notice by the
        complaint's ``due_at``."""
        data = await self.client._call(
            "POST", "/v1/privacy/complaints", json={"subject": subject, "body": body}
        )
        return _parse(Complaint.from_wire, data, "complaint")

    async def complaints(self) -> list[Complaint]:
        """Your complaints, newest first."""
        data = await self.client._call("GET", "/v1/privacy/complaints")
        return _parse(lambda d: [Complaint.from_wire(c) for c in d], data, "complaints")

    async def complaint(self, complaint_id: str) -> Complaint:
        """One of your complaints."""
        path = f"/v1/privacy/complaints/{quote(complaint_id, safe='')}"
        return _parse(Complaint.from_wire, await self.client._call("GET", path), "complaint")

    async def notices(self) -> list[Notice]:
        """The operator's notices to you, newest first."""
        data = await self.client._call("GET", "/v1/privacy/notices")
        return _parse(lambda d: [Notice.from_wire(n) for n in d], data, "notices")
