"""The server's public transparency report in the SDK; no sign-in needed
(docs/transparency.md, "SDK and CLI").

    async with Client("https://courtyard.example") as client:
        reports = TransparencyReports(client)
        latest = (await reports.periods())[0]
        report = await reports.report(latest.period)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from courtyard.client.client import Client
from courtyard.client.errors import ProtocolError
from courtyard.client.models import parse_time

COUNT_NAMES = (
    "received",
    "rejected",
    "narrowed",
    "produced_content",
    "produced_non_content",
    "accounts_specified",
    "accounts_affected",
    "users_notified",
    "holds_active",
)
T = TypeVar("T")


@dataclass(frozen=True)
class ReportPeriod:
    """A period with a report: ``2026-H1`` or ``2026-Q3``, ``[start, end)`` in UTC."""

    period: str
    kind: str
    start: dt.datetime
    end: dt.datetime
    provisional: bool

    @classmethod
    def from_wire(cls, data: Any) -> ReportPeriod:
        return cls(
            period=str(data["period"]),
            kind=str(data["kind"]),
            start=parse_time(data["start"]),
            end=parse_time(data["end"]),
            provisional=bool(data["provisional"]),
        )


@dataclass(frozen=True)
class ReportRow:
    """One country and process type; ``counts`` maps each of ``COUNT_NAMES`` to a number."""

    country: str
    process_type: str
    counts: dict[str, int]

    @classmethod
    def from_wire(cls, data: Any) -> ReportRow:
        return cls(str(data["country"]), str(data["process_type"]), _counts(data))


@dataclass(frozen=True)
class TransparencyReport:
    """One period's report, as the server computed it at ``generated_at``."""

    period: ReportPeriod
    generated_at: dt.datetime
    holds_counted_at: dt.datetime
    rows: tuple[ReportRow, ...]
    totals: dict[str, int]
    raw: dict[str, Any]  # the JSON as received, for `--json` and archiving

    @classmethod
    def from_wire(cls, data: Any) -> TransparencyReport:
        return cls(
            period=ReportPeriod.from_wire(data),
            generated_at=parse_time(data["generated_at"]),
            holds_counted_at=parse_time(data["holds_counted_at"]),
            rows=tuple(ReportRow.from_wire(row) for row in data["rows"]),
            totals=_counts(data["totals"]),
            raw=dict(data),
        )


class TransparencyReports:
    """The report endpoints of ``client``'s server; works with or without a session."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def periods(self) -> list[ReportPeriod]:
        """The periods with a report, newest first."""
        data = await self.client._call("GET", "/v1/transparency/reports", authenticated=False)
        return _parse(lambda d: [ReportPeriod.from_wire(p) for p in d["periods"]], data)

    async def report(self, period: str) -> TransparencyReport:
        """The report of ``period`` (``2026-H1``); ``ApiError`` with ``invalid_period`` or
        ``report_not_found`` if there is none."""
        path = f"/v1/transparency/reports/{quote(period, safe='')}"
        data = await self.client._call("GET", path, authenticated=False)
        return _parse(TransparencyReport.from_wire, data)


async def fetch_report(
    base_url: str, period: str, *, transport: httpx.AsyncBaseTransport | None = None
) -> TransparencyReport:
    """The report of ``period`` from the server at ``base_url``, with a client of its own."""
    async with Client(base_url, transport=transport) as client:
        return await TransparencyReports(client).report(period)


def _counts(data: Any) -> dict[str, int]:
    return {name: int(data[name]) for name in COUNT_NAMES}


def _parse(parse: Callable[[Any], T], data: Any) -> T:
    try:
        return parse(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"malformed transparency report: {exc!r}") from None
