"""A typed async client for the sandbox provider's HTTP API (the wallet's adapter uses it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypedDict, Unpack, cast

import httpx

from courtyard.sandbox.schemas import Kind, Outcome, Status

DEFAULT_TIMEOUT_SECONDS = 10.0


class SandboxProviderError(Exception):
    """The provider answered non-2xx, or could not be reached (``status_code`` None)."""

    def __init__(self, status_code: int | None, code: str, detail: str | None = None) -> None:
        super().__init__(f"sandbox provider: {status_code or 'unreachable'} {code}: {detail}")
        self.status_code = status_code
        self.code = code
        self.detail = detail

    @property
    def retryable(self) -> bool:
        """Whether the same call may succeed later (unreachable, 429 or 5xx)."""
        return self.status_code is None or self.status_code == 429 or self.status_code >= 500


class BehaviourOptions(TypedDict, total=False):
    """Per-operation behaviour; keys left out take the provider's defaults."""

    outcome: Outcome
    delay_ms: int
    duplicates: int
    bad_signature: bool
    wrong_amount: bool
    drop_callbacks: bool


class ControlOptions(BehaviourOptions, total=False):
    """Defaults for new operations; ``fail_rate`` is a probability in [0, 1]."""

    fail_rate: float


@dataclass(frozen=True)
class Accepted:
    """The provider's answer to a new (or repeated) charge or payout."""

    provider_ref: str
    status: Status
    pay_url: str | None


@dataclass(frozen=True)
class OperationStatus:
    operation_id: str
    provider_ref: str
    kind: Kind
    status: Status
    amount_minor: int
    currency: str
    failure_code: str | None
    created_at: dt.datetime
    settled_at: dt.datetime | None


@dataclass(frozen=True)
class SettlementLine:
    operation_id: str
    provider_ref: str
    kind: Kind
    amount_minor: int
    currency: str
    status: Status


@dataclass(frozen=True)
class ReportLine(SettlementLine):
    settled_at: dt.datetime


@dataclass(frozen=True)
class Report:
    """The operations settled on ``day`` and the balance per currency at ``generated_at``."""

    day: dt.date
    generated_at: dt.datetime
    operations: list[ReportLine]
    balances: dict[str, int]
    signature: str


@dataclass(frozen=True)
class ProviderDefaults:
    outcome: Outcome
    delay_ms: int
    duplicates: int
    bad_signature: bool
    wrong_amount: bool
    drop_callbacks: bool
    fail_rate: float


def _status(data: dict[str, Any]) -> OperationStatus:
    settled_at = data.get("settled_at")
    return OperationStatus(
        operation_id=data["operation_id"],
        provider_ref=data["provider_ref"],
        kind=data["kind"],
        status=data["status"],
        amount_minor=int(data["amount_minor"]),
        currency=data["currency"],
        failure_code=data.get("failure_code"),
        created_at=dt.datetime.fromisoformat(data["created_at"]),
        settled_at=dt.datetime.fromisoformat(settled_at) if settled_at else None,
    )


class SandboxProviderClient:
    """``async with SandboxProviderClient(url, key) as provider: await provider.status(id)``."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            timeout=timeout,
            headers={"Authorization": f"Bearer {api_key}"},
        )

    async def __aenter__(self) -> SandboxProviderClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self, method: str, path: str, *, json: object = None, params: dict[str, str] | None = None
    ) -> Any:
        return (await self._send(method, path, json=json, params=params)).json()

    async def _send(
        self, method: str, path: str, *, json: object = None, params: dict[str, str] | None = None
    ) -> httpx.Response:
        try:
            response = await self._http.request(method, path, json=json, params=params)
        except httpx.TransportError as exc:
            raise SandboxProviderError(None, "unreachable", str(exc) or type(exc).__name__) from exc
        if response.is_success:
            return response
        try:
            problem = response.json()
            code, detail = str(problem["code"]), problem.get("detail")
        except (ValueError, KeyError, TypeError):
            code, detail = "http_error", response.text[:200] or None
        raise SandboxProviderError(response.status_code, code, detail)

    async def _create(
        self,
        path: str,
        operation_id: str,
        amount_minor: int,
        currency: str,
        callback_url: str,
        destination: str | None,
        behaviour: BehaviourOptions | None,
    ) -> Accepted:
        body: dict[str, object] = {
            "operation_id": operation_id,
            "amount_minor": amount_minor,
            "currency": currency,
            "callback_url": callback_url,
        }
        if destination is not None:
            body["destination"] = destination
        if behaviour is not None:
            body["behaviour"] = dict(behaviour)
        data = await self._call("POST", path, json=body)
        next_action = data.get("next_action") or {}
        return Accepted(data["provider_ref"], data["status"], next_action.get("pay_url"))

    async def create_charge(
        self,
        operation_id: str,
        amount_minor: int,
        currency: str,
        callback_url: str,
        *,
        destination: str | None = None,
        behaviour: BehaviourOptions | None = None,
    ) -> Accepted:
        """Create a charge (top-up); calling again with the same arguments is harmless."""
        return await self._create(
            "/charges", operation_id, amount_minor, currency, callback_url, destination, behaviour
        )

    async def create_payout(
        self,
        operation_id: str,
        amount_minor: int,
        currency: str,
        callback_url: str,
        *,
        destination: str,
        behaviour: BehaviourOptions | None = None,
    ) -> Accepted:
        """Create a payout (withdrawal) to ``destination``; idempotent by ``operation_id``."""
        return await self._create(
            "/payouts", operation_id, amount_minor, currency, callback_url, destination, behaviour
        )

    async def status(self, operation_id: str) -> OperationStatus:
        """The operation's current status; ``SandboxProviderError`` 404 if unknown."""
        return _status(await self._call("GET", f"/operations/{operation_id}"))

    async def cancel(self, operation_id: str) -> OperationStatus:
        """Cancel if still pending; answers the status after the attempt."""
        return _status(await self._call("POST", f"/operations/{operation_id}/cancel"))

    async def settlements(self, day: dt.date) -> list[SettlementLine]:
        """Operations that reached a final state on UTC ``day``."""
        data = await self._call("GET", "/settlements", params={"day": day.isoformat()})
        return [SettlementLine(**line) for line in data["lines"]]

    async def report(self, day: dt.date) -> Report:
        """The signed reconciliation report for UTC ``day``; ``signature`` is the
        ``Courtyard-Signature`` header over the body (check it with the callback secret)."""
        response = await self._send("GET", "/report", params={"day": day.isoformat()})
        data = response.json()
        return Report(
            day=dt.date.fromisoformat(data["day"]),
            generated_at=dt.datetime.fromisoformat(data["generated_at"]),
            operations=[
                ReportLine(**{**line, "settled_at": dt.datetime.fromisoformat(line["settled_at"])})
                for line in data["operations"]
            ],
            balances={currency: int(amount) for currency, amount in data["balances"].items()},
            signature=response.headers.get("Courtyard-Signature", ""),
        )

    async def balance(self) -> dict[str, int]:
        """Per currency: succeeded charges minus succeeded payouts, in minor units."""
        data = await self._call("GET", "/balance")
        return {currency: int(amount) for currency, amount in data["balances"].items()}

    async def control(self, **defaults: Unpack[ControlOptions]) -> ProviderDefaults:
        """Change the defaults for new operations; answers all of them."""
        data = await self._call("POST", "/control", json=dict(defaults))
        return ProviderDefaults(**cast(dict[str, Any], data))
