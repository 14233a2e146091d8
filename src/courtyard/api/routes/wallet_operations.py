"""Top-ups and withdrawals through the payment provider, and the provider's callbacks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from courtyard.api.deps import CurrentIdentity, RuntimeDep
from courtyard.api.problems import AUTH_PROBLEMS, COMMON_PROBLEMS, problem_doc
from courtyard.api.routes.wallet import AMOUNT_DOC, CURRENCY_DOC, IdempotencyKey, answer
from courtyard.core.errors import PayloadTooLarge
from courtyard.domains.wallet.idempotency import check_key
from courtyard.domains.wallet.operations import OperationRequest

router = APIRouter(prefix="/v1/wallet", tags=["wallet"], responses=COMMON_PROBLEMS)
MAX_CALLBACK_BYTES = 64 * 1024
ProviderName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{0,31}$", examples=["sandbox"])]
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: problem_doc("No payment provider is configured (provider_unavailable).")
}
TOPUP_PROBLEMS: dict[int | str, dict[str, Any]] = {**AUTH_PROBLEMS, **UNAVAILABLE}
WITHDRAWAL_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **TOPUP_PROBLEMS,
    403: problem_doc("pin_not_set, wrong_pin or daily_limit_exceeded."),
    409: problem_doc("insufficient_funds, account_frozen or idempotency_key_reused."),
    429: problem_doc("Too many wrong PINs (pin_locked)."),
}


class SandboxBehaviour(BaseModel):
    """How the sandbox provider plays this operation out (sandbox provider only)."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["succeed", "fail", "never", "wait_for_payer"] | None = None
    delay_ms: Annotated[StrictInt, Field(ge=0, le=7 * 24 * 3600 * 1000)] | None = None
    duplicates: Annotated[StrictInt, Field(ge=0, le=20)] | None = None
    bad_signature: StrictBool | None = None
    wrong_amount: StrictBool | None = None
    drop_callbacks: StrictBool | None = None


class CreateTopup(BaseModel):
    # Any JSON, so that Money.parse (not the request model) judges it.
    amount: Any = Field(description=AMOUNT_DOC, json_schema_extra={"type": "string"})
    currency: Any = Field(description=CURRENCY_DOC, json_schema_extra={"type": "string"})
    sandbox: SandboxBehaviour | None = None


class CreateWithdrawal(CreateTopup):
    destination: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="The provider's token for your bank account.",
    )
    pin: str = Field(max_length=64)


def _behaviour(sandbox: SandboxBehaviour | None) -> dict[str, Any] | None:
    return None if sandbox is None else sandbox.model_dump(exclude_none=True)


@router.post(
    "/topups",
    status_code=201,
    responses={**TOPUP_PROBLEMS, 409: problem_doc("idempotency_key_reused.")},
)
async def post_topup(
    body: CreateTopup,
    identity: CurrentIdentity,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Add money from the payment provider. The answer is the operation as created; follow
    it on `GET /v1/wallet/operations/{id}` or the `wallet.operation` stream events (a
    `next_action.pay_url`, then `succeeded` or `failed`). Needs an `Idempotency-Key`."""
    key = check_key(idempotency_key)
    amount = runtime.wallet.policy.parse(body.amount, body.currency)
    request = OperationRequest("topup", amount, _behaviour(body.sandbox))
    return answer(await runtime.wallet.operations.do_create(identity, key, request), 201)


@router.post("/withdrawals", status_code=201, responses=WITHDRAWAL_PROBLEMS)
async def post_withdrawal(
    body: CreateWithdrawal,
    identity: CurrentIdentity,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Send money to your bank account. It leaves your balance at once and is held until the
    provider pays it out; if the payout fails it comes back. Needs your payment PIN and an
    `Idempotency-Key`."""
    key = check_key(idempotency_key)
    amount = runtime.wallet.policy.parse(body.amount, body.currency)
    request = OperationRequest(
        "withdrawal", amount, _behaviour(body.sandbox), body.destination, body.pin
    )
    return answer(await runtime.wallet.operations.do_create(identity, key, request), 201)


@router.get(
    "/operations/{operation_id}",
    responses={**AUTH_PROBLEMS, 404: problem_doc("Not one of your operations.")},
)
async def get_operation(
    operation_id: str, identity: CurrentIdentity, runtime: RuntimeDep
) -> dict[str, Any]:
    """One of your top-ups or withdrawals in its current state (others get 404
    operation_not_found)."""
    return await runtime.wallet.operations.access_operation(identity, operation_id)


@router.post(
    "/providers/{provider}/callbacks",
    responses={404: problem_doc("No such operation (operation_not_found).")},
)
async def provider_callback(
    provider: ProviderName, request: Request, runtime: RuntimeDep
) -> dict[str, bool]:
    """For the payment provider, not for clients: a signed event about an operation
    (`Courtyard-Signature` over the raw body). Answered 200 only after it is recorded;
    400 bad_signature for a forged or stale signature, 404 for an unknown operation."""
    body = await request.body()
    if len(body) > MAX_CALLBACK_BYTES:
        raise PayloadTooLarge("A callback is at most 64 KiB")
    await runtime.wallet.operations.do_callback(provider, request.headers, body)
    return {"ok": True}
