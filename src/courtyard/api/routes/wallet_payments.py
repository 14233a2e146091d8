"""Paying merchants by QR code, and their refunds (docs/wallet.md, "Merchants and QR
payments")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from courtyard.api.deps import CurrentIdentity, RuntimeDep
from courtyard.api.problems import AUTH_PROBLEMS, COMMON_PROBLEMS, problem_doc
from courtyard.api.routes.wallet import AMOUNT_DOC, CURRENCY_DOC, IdempotencyKey, answer
from courtyard.domains.wallet import PaymentRequest, RefundRequest
from courtyard.domains.wallet.idempotency import check_key

router = APIRouter(prefix="/v1/wallet", tags=["wallet"], responses=COMMON_PROBLEMS)
QR_DOC = "The code's text: courtyard://pay?p=…&s=… (what the QR image holds)."
QR_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **AUTH_PROBLEMS,
    400: problem_doc("invalid_qr: not a code of this server, altered, or malformed."),
    409: problem_doc("qr_revoked (the merchant withdrew it), merchant_unavailable (suspended)."),
}
PAY_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **AUTH_PROBLEMS,
    400: problem_doc(
        "invalid_qr, amount_mismatch / currency_mismatch (a fixed code is for its amount), "
        "self_payment, invalid_amount (also: a static code needs one), unsupported_currency, "
        "amount_above_limit, idempotency_key_required, invalid_idempotency_key."
    ),
    403: problem_doc("pin_not_set, wrong_pin (attempts_left), daily_limit_exceeded."),
    409: problem_doc(
        "qr_revoked, merchant_unavailable, insufficient_funds, account_frozen, "
        "idempotency_key_reused."
    ),
    429: problem_doc("pin_locked: too many wrong PINs (Retry-After, locked_until)."),
}
PAYMENT_READ_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **AUTH_PROBLEMS,
    404: problem_doc("payment_not_found: no such payment, or you are neither payer nor owner."),
}
REFUND_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **PAYMENT_READ_PROBLEMS,
    400: problem_doc("invalid_amount, currency_mismatch, idempotency_key_required."),
    403: problem_doc("not_merchant_owner (the payer), pin_not_set, wrong_pin."),
    409: problem_doc(
        "refund_exceeds_payment (refundable), refund_window_closed, insufficient_funds (the "
        "merchant's balance), account_frozen, idempotency_key_reused."
    ),
    429: problem_doc("pin_locked: too many wrong PINs (Retry-After, locked_until)."),
}


class ResolveQr(BaseModel):
    # Any JSON, so that the code's parser (not the request model) judges it: anything that
    # is not a valid code answers invalid_qr.
    qr: Any = Field(description=QR_DOC, json_schema_extra={"type": "string"})


class CreatePayment(ResolveQr):
    amount: Any = Field(
        default=None,
        description=AMOUNT_DOC + " Needed for a static code; a fixed code takes only its own.",
        json_schema_extra={"type": "string"},
    )
    currency: Any = Field(
        default=None,
        description=CURRENCY_DOC + " Default: the code's.",
        json_schema_extra={"type": "string"},
    )
    pin: str = Field(max_length=64)


class CreateRefund(BaseModel):
    amount: Any = Field(description=AMOUNT_DOC, json_schema_extra={"type": "string"})
    currency: Any = Field(
        default=None,
        description="The payment's currency (optional).",
        json_schema_extra={"type": "string"},
    )
    pin: str = Field(max_length=64)


@router.get("/qr-keys")
async def get_qr_keys(runtime: RuntimeDep) -> dict[str, Any]:
    """The Ed25519 public keys (raw, base64url) that sign this server's payment codes, the
    current one first. Devices check a code against them before showing "Pay". No token."""
    return {"keys": runtime.wallet.payments.published_keys()}


@router.post("/qr/resolve", responses=QR_PROBLEMS)
async def resolve_qr(
    body: ResolveQr, identity: CurrentIdentity, runtime: RuntimeDep
) -> dict[str, Any]:
    """What a scanned code is: the merchant's name and category, and for a fixed code the
    amount. Show this to the payer before asking for the PIN."""
    return await runtime.wallet.payments.resolve(body.qr)


@router.post("/payments", status_code=201, responses=PAY_PROBLEMS)
async def post_payment(
    body: CreatePayment,
    identity: CurrentIdentity,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Pay the merchant of a scanned code: a static code with the amount you enter, a fixed
    code its own amount. The money reaches the merchant at once. Needs your payment PIN and
    an `Idempotency-Key`; you cannot pay a merchant you own (`self_payment`)."""
    key = check_key(idempotency_key)
    request = PaymentRequest(qr=body.qr, pin=body.pin, amount=body.amount, currency=body.currency)
    return answer(await runtime.wallet.payments.do_pay(identity, key, request), 201)


@router.get("/payments/{payment_id}", responses=PAYMENT_READ_PROBLEMS)
async def get_payment(
    payment_id: str, identity: CurrentIdentity, runtime: RuntimeDep
) -> dict[str, Any]:
    """A payment and its refunds, for its payer or the merchant's owner (who also sees the
    fee); anyone else gets 404 payment_not_found."""
    return await runtime.wallet.payments.access_payment(identity, payment_id)


@router.post("/payments/{payment_id}/refunds", status_code=201, responses=REFUND_PROBLEMS)
async def post_refund(
    payment_id: str,
    body: CreateRefund,
    identity: CurrentIdentity,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Refund part or all of a payment to its payer from the merchant's balance (the
    merchant's owner, with their PIN and an `Idempotency-Key`), within the refund window;
    refunds never add up to more than the payment. The platform's fee is not returned."""
    key = check_key(idempotency_key)
    request = RefundRequest(amount=body.amount, pin=body.pin, currency=body.currency)
    return answer(await runtime.wallet.payments.do_refund(identity, key, payment_id, request), 201)
