"""Bills and spending: the billers you can pay, paying a bill, your bills, and what you spent
per category (docs/wallet.md, "Bills", "Statements and categories")."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from courtyard.api.deps import CurrentIdentity, RuntimeDep
from courtyard.api.problems import AUTH_PROBLEMS, COMMON_PROBLEMS, problem_doc
from courtyard.api.routes.wallet import AMOUNT_DOC, CURRENCY_DOC, IdempotencyKey, answer
from courtyard.domains.wallet.bills import BillRequest
from courtyard.domains.wallet.idempotency import check_key

router = APIRouter(
    prefix="/v1/wallet", tags=["wallet"], responses={**COMMON_PROBLEMS, **AUTH_PROBLEMS}
)
DEFAULT_SPENDING_DAYS = 30
BILL_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: problem_doc(
        "invalid_amount, unsupported_currency, currency_mismatch (not the biller's currency), "
        "invalid_reference (with reference_hint), amount_out_of_bounds (with min and max), "
        "amount_above_limit, idempotency_key_required, invalid_idempotency_key."
    ),
    403: problem_doc("pin_not_set, wrong_pin (attempts_left), daily_limit_exceeded."),
    404: problem_doc("biller_not_found: no such biller, or it takes no payments now."),
    409: problem_doc("insufficient_funds, account_frozen, idempotency_key_reused."),
    429: problem_doc("pin_locked: too many wrong PINs (Retry-After, locked_until)."),
}


class PayBill(BaseModel):
    biller_id: str = Field(max_length=64)
    reference: str = Field(
        max_length=256, description="The reference on your bill; see the biller's hint."
    )
    # Any JSON, so that Money.parse (not the request model) judges it (invalid_amount).
    amount: Any = Field(description=AMOUNT_DOC, json_schema_extra={"type": "string"})
    currency: Any = Field(description=CURRENCY_DOC, json_schema_extra={"type": "string"})
    pin: str = Field(max_length=64)


@router.get("/billers")
async def list_billers(_identity: CurrentIdentity, runtime: RuntimeDep) -> list[dict[str, Any]]:
    """The billers you can pay now, by name: their currency, the smallest and largest bill
    they take, and a hint saying what reference they expect."""
    return await runtime.wallet.bills.payable_billers()


@router.post("/bills", status_code=201, responses=BILL_PROBLEMS)
async def pay_bill(
    body: PayBill,
    identity: CurrentIdentity,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Pay a bill: the amount goes from your balance to the biller at once, credited to the
    reference you give, which must be one the biller issues. Counts against your daily limit.
    Needs your payment PIN and an `Idempotency-Key`."""
    key = check_key(idempotency_key)
    amount = runtime.wallet.policy.parse(body.amount, body.currency)
    request = BillRequest(body.biller_id, body.reference, amount, body.pin)
    return answer(await runtime.wallet.bills.do_pay(identity, key, request), 201)


@router.get("/bills")
async def list_bills(
    identity: CurrentIdentity,
    runtime: RuntimeDep,
    before: Annotated[
        str | None, Query(max_length=64, description="A bill id: the page after it.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Bills you paid, newest first; `has_more` says whether `before` the last one finds
    more."""
    return await runtime.wallet.bills.list_bills(identity, before, limit)


@router.get(
    "/bills/{bill_id}",
    responses={404: problem_doc("bill_not_found: no such bill, or not yours.")},
)
async def get_bill(bill_id: str, identity: CurrentIdentity, runtime: RuntimeDep) -> dict[str, Any]:
    """One bill you paid (anyone else's answers 404 bill_not_found)."""
    return await runtime.wallet.bills.access_bill(identity, bill_id)


@router.get("/spending")
async def get_spending(
    identity: CurrentIdentity,
    runtime: RuntimeDep,
    currency: Annotated[str, Query(max_length=8)],
    start: Annotated[dt.datetime | None, Query(alias="from")] = None,
    end: Annotated[dt.datetime | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    """What you spent per category in `currency` from `from` up to (not including) `to`:
    transfers sent, red packets, merchant payments and bills, less what came back to you
    (returns, refunds); categories where nothing was spent are left out, the largest first.
    Money others sent you is `income`. The range is at most 366 days (default: the last 30)."""
    runtime.wallet.policy.parse("1", currency)  # unsupported_currency, like every endpoint
    end = _utc(end) if end else runtime.clock.now() + dt.timedelta(seconds=1)
    start = _utc(start) if start else end - dt.timedelta(days=DEFAULT_SPENDING_DAYS)
    return await runtime.wallet.statements.spending(identity.user_id, currency, start, end)


def _utc(moment: dt.datetime) -> dt.datetime:
    """A time without a zone is UTC, as everywhere on the wire."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
