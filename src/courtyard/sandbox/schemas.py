"""Wire models of the sandbox provider's API; amounts are integer minor units, never floats."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from courtyard.core.wire import WireId

Kind = Literal["charge", "payout"]
Status = Literal["pending", "succeeded", "failed", "cancelled"]
Outcome = Literal["succeed", "fail", "never", "wait_for_payer"]

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])]
AmountMinor = Annotated[StrictInt, Field(gt=0, le=10**15, examples=[1250])]
CallbackUrl = Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=2000)]
Destination = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]
MAX_DELAY_MS = 7 * 24 * 3600 * 1000
MAX_DUPLICATES = 20


class Behaviour(BaseModel):
    """How one operation plays out; fields left out take the defaults set by ``/control``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: Outcome = Field(
        default="succeed",
        description="`never` stays pending; `wait_for_payer` waits for the pay page (charges).",
    )
    delay_ms: Annotated[StrictInt, Field(ge=0, le=MAX_DELAY_MS)] = Field(
        default=0, description="Time from creation to settlement."
    )
    duplicates: Annotated[StrictInt, Field(ge=0, le=MAX_DUPLICATES)] = Field(
        default=0, description="Extra deliveries of the same callback event."
    )
    bad_signature: StrictBool = Field(default=False, description="Sign with a wrong key.")
    wrong_amount: StrictBool = Field(default=False, description="Report amount_minor + 1.")
    drop_callbacks: StrictBool = Field(
        default=False, description="Settle, but never send the callback (a lost callback)."
    )


class Defaults(Behaviour):
    """Behaviour for operations that do not say otherwise, plus a random failure rate."""

    fail_rate: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        default=0.0,
        description="Probability that an operation without an explicit outcome fails.",
    )


class ControlRequest(BaseModel):
    """A partial update of the defaults; fields left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    outcome: Outcome | None = None
    delay_ms: Annotated[StrictInt, Field(ge=0, le=MAX_DELAY_MS)] | None = None
    duplicates: Annotated[StrictInt, Field(ge=0, le=MAX_DUPLICATES)] | None = None
    bad_signature: StrictBool | None = None
    wrong_amount: StrictBool | None = None
    drop_callbacks: StrictBool | None = None
    fail_rate: Annotated[float, Field(ge=0.0, le=1.0)] | None = None


class OperationRequest(BaseModel):
    """A charge (top-up) or payout (withdrawal); ``operation_id`` is the idempotency key."""

    model_config = ConfigDict(extra="forbid")

    operation_id: WireId
    amount_minor: AmountMinor
    currency: Currency
    callback_url: CallbackUrl
    destination: Destination | None = None
    behaviour: Behaviour | None = None


class Accepted(BaseModel):
    """The provider took the operation; ``next_action`` says what the payer must do, if any."""

    provider_ref: str
    status: Status
    next_action: dict[str, str] | None = Field(
        default=None, examples=[{"pay_url": "http://127.0.0.1:8900/pay/0192..."}]
    )


class OperationView(BaseModel):
    """An operation as the provider sees it now."""

    operation_id: str
    provider_ref: str
    kind: Kind
    status: Status
    amount_minor: int
    currency: str
    failure_code: str | None
    created_at: str
    settled_at: str | None


class SettlementLine(BaseModel):
    """An operation that reached a final state on the reported day."""

    operation_id: str
    provider_ref: str
    kind: Kind
    amount_minor: int
    currency: str
    status: Status


class Settlements(BaseModel):
    day: str
    lines: list[SettlementLine]


class ReportLine(SettlementLine):
    settled_at: str


class Report(BaseModel):
    """What the provider settled on UTC ``day`` and what it holds per currency at
    ``generated_at``; the body is signed like a callback (``Courtyard-Signature``)."""

    day: str
    generated_at: str
    operations: list[ReportLine]
    balances: dict[str, int] = Field(examples=[{"EUR": 1250}])


class BalanceView(BaseModel):
    """Charges succeeded minus payouts succeeded, per currency, in minor units."""

    balances: dict[str, int] = Field(examples=[{"EUR": 1250}])


def explicit_fields(model: BaseModel | None) -> dict[str, Any]:
    """The fields a client actually sent (not the defaults filled in)."""
    return {} if model is None else model.model_dump(exclude_unset=True)
