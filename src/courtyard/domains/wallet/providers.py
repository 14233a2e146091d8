"""Payment providers as the wallet sees them, and the adapter for the sandbox provider's API.

Every call is idempotent by ``operation_id``: calling twice creates one charge or payout, so
a job that runs again after a crash repeats the call safely. Callbacks are verified over the
raw body before anything else (docs/wallet.md, "Top-up and withdrawal").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx
import orjson

from courtyard.core.callback_signatures import SIGNATURE_HEADER, verify
from courtyard.core.clock import Clock
from courtyard.domains.wallet.errors import (
    InvalidCallback,
    InvalidProviderReport,
    ProviderRefused,
    ProviderUnavailable,
)

TIMEOUT_SECONDS = 10.0
StatusName = Literal["pending", "succeeded", "failed", "cancelled", "unknown"]
STATUSES: frozenset[str] = frozenset({"pending", "succeeded", "failed", "cancelled", "unknown"})
_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True, slots=True)
class ProviderRequest:
    """A charge (top-up) or payout (withdrawal); ``behaviour`` is for the sandbox only."""

    operation_id: str
    amount_minor: int
    currency: str
    callback_url: str
    destination: str | None = None
    behaviour: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ProviderAccepted:
    provider_ref: str
    next_action: dict[str, str] | None


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """What the provider says about an operation; amounts are absent when it knows none."""

    status: StatusName
    amount_minor: int | None = None
    currency: str | None = None
    kind: str | None = None
    failure_code: str | None = None


@dataclass(frozen=True, slots=True)
class SettlementLine:
    operation_id: str
    provider_ref: str
    kind: str
    amount_minor: int
    currency: str
    status: str


@dataclass(frozen=True, slots=True)
class ProviderReport:
    """The provider's signed report: the operations it settled (reached a final state) on UTC
    ``day``, and what it holds for us per currency at ``generated_at`` (charges succeeded
    minus payouts succeeded, minor units)."""

    day: dt.date
    generated_at: dt.datetime
    lines: tuple[SettlementLine, ...]
    balances: dict[str, int]


@dataclass(frozen=True, slots=True)
class ProviderCallback:
    """A verified callback event."""

    event_id: str
    operation_id: str
    kind: str
    status: StatusName
    amount_minor: int
    currency: str
    failure_code: str | None
    body_sha256: str


class PaymentProvider(Protocol):
    name: str

    async def start(self) -> None: ...
    async def aclose(self) -> None: ...
    async def create_charge(self, req: ProviderRequest) -> ProviderAccepted: ...
    async def create_payout(self, req: ProviderRequest) -> ProviderAccepted: ...
    async def cancel(self, operation_id: str) -> ProviderStatus: ...
    async def status(self, operation_id: str) -> ProviderStatus: ...
    async def settlements(self, day: dt.date) -> list[SettlementLine]: ...
    async def report(self, day: dt.date) -> ProviderReport: ...
    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> ProviderCallback: ...


def parse_event(body: bytes) -> ProviderCallback:
    """The callback event in a (verified) body; ``InvalidCallback`` if it is not one."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidCallback("the body is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidCallback("the body is not a JSON object")
    event_id, operation_id = data.get("event_id"), data.get("operation_id")
    status, amount, currency = data.get("status"), data.get("amount_minor"), data.get("currency")
    kind, failure_code = data.get("kind"), data.get("failure_code")
    if not (isinstance(event_id, str) and 0 < len(event_id) <= 64):
        raise InvalidCallback("event_id")
    if not (isinstance(operation_id, str) and 0 < len(operation_id) <= 36):
        raise InvalidCallback("operation_id")
    if not isinstance(status, str) or status not in STATUSES or not isinstance(kind, str):
        raise InvalidCallback("status or kind")
    if type(amount) is not int or not (isinstance(currency, str) and _CURRENCY.fullmatch(currency)):
        raise InvalidCallback("amount_minor or currency")
    if failure_code is not None and not isinstance(failure_code, str):
        raise InvalidCallback("failure_code")
    return ProviderCallback(
        event_id=event_id,
        operation_id=operation_id,
        kind=kind,
        status=status_name(status),
        amount_minor=amount,
        currency=currency,
        failure_code=failure_code[:64] if failure_code else None,
        body_sha256=hashlib.sha256(body).hexdigest(),
    )


class SandboxProvider:
    """The sandbox provider's HTTP API (``courtyard/sandbox``), spoken with plain httpx.

    ``transport`` reaches an in-process sandbox app; ``companion`` is run from ``start`` to
    ``aclose`` alongside the client (that app's lifespan, when it runs in this process).
    """

    name = "sandbox"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        secret: bytes,
        clock: Clock,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        companion: AbstractAsyncContextManager[object] | None = None,
    ) -> None:
        self._secret = secret
        self._clock = clock
        self._companion = companion
        self._started = False
        self._http = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            timeout=TIMEOUT_SECONDS,
            headers={"Authorization": f"Bearer {api_key}"},
        )

    async def start(self) -> None:
        if self._companion is not None and not self._started:
            await self._companion.__aenter__()
        self._started = True

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._companion is not None and self._started:
            await self._companion.__aexit__(None, None, None)
        self._started = False

    async def create_charge(self, req: ProviderRequest) -> ProviderAccepted:
        return await self._create("/charges", req)

    async def create_payout(self, req: ProviderRequest) -> ProviderAccepted:
        return await self._create("/payouts", req)

    async def cancel(self, operation_id: str) -> ProviderStatus:
        return _status(await self._call("POST", f"/operations/{operation_id}/cancel"))

    async def status(self, operation_id: str) -> ProviderStatus:
        try:
            return _status(await self._call("GET", f"/operations/{operation_id}"))
        except ProviderRefused as exc:
            if exc.extra.get("http_status") == 404:
                return ProviderStatus("unknown")
            raise

    async def settlements(self, day: dt.date) -> list[SettlementLine]:
        data = await self._call("GET", "/settlements", params={"day": day.isoformat()})
        return [SettlementLine(**line) for line in data["lines"]]

    async def report(self, day: dt.date) -> ProviderReport:
        """``GET /report``: its body is signed like a callback; a report that is not signed
        with our shared secret raises ``BadSignature`` and is never used."""
        response = await self._send("GET", "/report", params={"day": day.isoformat()})
        self._verify(response.headers, response.content)
        return parse_report(response.content, day)

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> ProviderCallback:
        self._verify(headers, body)
        return parse_event(body)

    def _verify(self, headers: Mapping[str, str], body: bytes) -> None:
        header = next(
            (v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), None
        )
        verify(self._secret, header, body, int(self._clock.now().timestamp()))

    async def _create(self, path: str, req: ProviderRequest) -> ProviderAccepted:
        body: dict[str, Any] = {
            "operation_id": req.operation_id,
            "amount_minor": req.amount_minor,
            "currency": req.currency,
            "callback_url": req.callback_url,
        }
        if req.destination is not None:
            body["destination"] = req.destination
        if req.behaviour is not None:
            body["behaviour"] = req.behaviour
        data = await self._call("POST", path, json=body)
        next_action = data.get("next_action")
        return ProviderAccepted(
            str(data["provider_ref"]), dict(next_action) if next_action else None
        )

    async def _call(
        self, method: str, path: str, *, json: object = None, params: dict[str, str] | None = None
    ) -> Any:
        """The JSON answer; ``ProviderUnavailable`` for what may work later (unreachable,
        429, 5xx), ``ProviderRefused`` for a refusal that will not change."""
        return (await self._send(method, path, json=json, params=params)).json()

    async def _send(
        self, method: str, path: str, *, json: object = None, params: dict[str, str] | None = None
    ) -> httpx.Response:
        """A 2xx response, or the errors of ``_call``."""
        try:
            response = await self._http.request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable("The payment provider cannot be reached") from exc
        if response.is_success:
            return response
        if response.status_code == 429 or response.status_code >= 500:
            raise ProviderUnavailable(f"The payment provider answered {response.status_code}")
        try:
            code = str(response.json()["code"])[:64]
        except (ValueError, KeyError, TypeError):
            code = f"http_{response.status_code}"
        raise ProviderRefused(provider_code=code, http_status=response.status_code)


def parse_report(body: bytes, day: dt.date) -> ProviderReport:
    """The report in a (verified) body; ``InvalidProviderReport`` if it is not one for
    ``day`` with integer amounts."""
    try:
        data = orjson.loads(body)
        if data["day"] != day.isoformat():
            raise InvalidProviderReport(f"the report is for {data['day']}, not {day}")
        lines = tuple(_report_line(line) for line in data["operations"])
        balances = data["balances"]
        if not all(type(v) is int and _CURRENCY.fullmatch(k) for k, v in balances.items()):
            raise InvalidProviderReport("balances are integer minor units per currency")
        generated_at = dt.datetime.fromisoformat(data["generated_at"])
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise InvalidProviderReport(type(exc).__name__) from None
    return ProviderReport(day, generated_at, lines, dict(balances))


def _report_line(line: dict[str, Any]) -> SettlementLine:
    amount, currency = line["amount_minor"], line["currency"]
    if type(amount) is not int or not _CURRENCY.fullmatch(currency):
        raise InvalidProviderReport("a line's amount_minor or currency")
    return SettlementLine(
        operation_id=str(line["operation_id"]),
        provider_ref=str(line["provider_ref"]),
        kind=str(line["kind"]),
        amount_minor=amount,
        currency=currency,
        status=status_name(line["status"]),
    )


def status_name(value: object) -> StatusName:
    """``value`` as a known status; anything else is ``unknown``."""
    for known in ("pending", "succeeded", "failed", "cancelled"):
        if value == known:
            return known
    return "unknown"


def _status(data: dict[str, Any]) -> ProviderStatus:
    return ProviderStatus(
        status=status_name(data.get("status")),
        amount_minor=data.get("amount_minor"),
        currency=data.get("currency"),
        kind=data.get("kind"),
        failure_code=data.get("failure_code"),
    )
