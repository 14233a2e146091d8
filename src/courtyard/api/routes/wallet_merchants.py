"""A merchant owner's side: their merchants, QR codes (made, listed, printed, revoked),
payments received and the merchant account's statement (docs/wallet.md, "Merchants and QR
payments"). Everyone but the owner gets 404 merchant_not_found."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from courtyard.api.deps import CurrentIdentity, RuntimeDep
from courtyard.api.problems import AUTH_PROBLEMS, COMMON_PROBLEMS, problem_doc
from courtyard.api.routes.wallet import AMOUNT_DOC, CURRENCY_DOC, aware, page_cursor
from courtyard.domains.wallet import QrRequest
from courtyard.domains.wallet.merchants import IMAGE_MEDIA_TYPES, ImageKind
from courtyard.domains.wallet.statements import StatementQuery, to_csv

router = APIRouter(
    prefix="/v1/wallet/merchants", tags=["wallet"], responses={**COMMON_PROBLEMS, **AUTH_PROBLEMS}
)
OWNER_PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: problem_doc("merchant_not_found (not yours, or no such merchant), qr_not_found."),
}
QR_CREATE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **OWNER_PROBLEMS,
    400: problem_doc("invalid_amount, unsupported_currency (not one the merchant takes)."),
    409: problem_doc("merchant_unavailable: the merchant is suspended."),
}
IMAGE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **OWNER_PROBLEMS,
    409: problem_doc("qr_revoked: a withdrawn code is not printed again."),
}


class CreateQr(BaseModel):
    kind: Literal["static", "fixed"] = Field(
        description="static: the payer enters the amount; fixed: the code carries `amount`."
    )
    amount: Any = Field(
        default=None,
        description=AMOUNT_DOC + " Fixed codes only.",
        json_schema_extra={"type": "string"},
    )
    currency: Any = Field(description=CURRENCY_DOC, json_schema_extra={"type": "string"})
    label: str = Field(default="", max_length=80, description="Your note, e.g. the till.")


@router.get("/mine")
async def get_my_merchants(identity: CurrentIdentity, runtime: RuntimeDep) -> dict[str, Any]:
    """The merchants you own (operators register them), with their balances."""
    return {"merchants": await runtime.wallet.merchants.list_mine(identity)}


@router.post("/{merchant_id}/qr", status_code=201, responses=QR_CREATE_PROBLEMS)
async def post_qr(
    merchant_id: str, body: CreateQr, identity: CurrentIdentity, runtime: RuntimeDep
) -> dict[str, Any]:
    """Make a payment code. `payload` is its signed text; print it with the `.svg` or `.png`
    image below, or any QR tool."""
    policy = runtime.wallet.policy
    policy.parse("1", body.currency)  # unsupported_currency, like every endpoint
    amount = policy.parse(body.amount, body.currency) if body.amount is not None else None
    request = QrRequest(kind=body.kind, currency=body.currency, amount=amount, label=body.label)
    return await runtime.wallet.merchants.do_create_qr(identity, merchant_id, request)


@router.get("/{merchant_id}/qr", responses=OWNER_PROBLEMS)
async def list_qr(
    merchant_id: str, identity: CurrentIdentity, runtime: RuntimeDep
) -> dict[str, Any]:
    """The merchant's codes, newest first, revoked ones included (without a payload)."""
    return {"codes": await runtime.wallet.merchants.list_qr(identity, merchant_id)}


@router.get(
    "/{merchant_id}/qr/{qr_id}.svg",
    responses={**IMAGE_PROBLEMS, 200: {"content": {"image/svg+xml": {}}}},
    response_class=Response,
)
async def get_qr_svg(
    merchant_id: str, qr_id: str, identity: CurrentIdentity, runtime: RuntimeDep
) -> Response:
    """The code as an SVG image to print."""
    return await _image(merchant_id, qr_id, "svg", identity, runtime)


@router.get(
    "/{merchant_id}/qr/{qr_id}.png",
    responses={**IMAGE_PROBLEMS, 200: {"content": {"image/png": {}}}},
    response_class=Response,
)
async def get_qr_png(
    merchant_id: str, qr_id: str, identity: CurrentIdentity, runtime: RuntimeDep
) -> Response:
    """The code as a PNG image to print."""
    return await _image(merchant_id, qr_id, "png", identity, runtime)


async def _image(
    merchant_id: str, qr_id: str, kind: ImageKind, identity: CurrentIdentity, runtime: RuntimeDep
) -> Response:
    image = await runtime.wallet.merchants.qr_image(identity, merchant_id, qr_id, kind)
    headers = {"Cache-Control": "private, no-store"}
    return Response(image, media_type=IMAGE_MEDIA_TYPES[kind], headers=headers)


@router.delete("/{merchant_id}/qr/{qr_id}", status_code=204, responses=OWNER_PROBLEMS)
async def delete_qr(
    merchant_id: str, qr_id: str, identity: CurrentIdentity, runtime: RuntimeDep
) -> Response:
    """Withdraw a code for good: payments with it are refused (`qr_revoked`). Payments
    already made keep it; revoking twice is fine."""
    await runtime.wallet.merchants.do_revoke_qr(identity, merchant_id, qr_id)
    return Response(status_code=204)


@router.get("/{merchant_id}/payments", responses=OWNER_PROBLEMS)
async def list_payments(
    merchant_id: str,
    identity: CurrentIdentity,
    runtime: RuntimeDep,
    before: Annotated[str | None, Query(max_length=120)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Payments the merchant received, newest first; pass `next_before` as `before` for the
    next page."""
    rows = await runtime.wallet.payments.merchant_payments(
        identity, merchant_id, page_cursor(before), limit
    )
    last = rows[-1] if len(rows) == limit else None
    return {
        "payments": rows,
        "next_before": f"{last['created_at']}|{last['payment_id']}" if last else None,
    }


@router.get("/{merchant_id}/statement", responses=OWNER_PROBLEMS, response_model=None)
async def get_merchant_statement(
    merchant_id: str,
    identity: CurrentIdentity,
    runtime: RuntimeDep,
    currency: Annotated[str, Query(max_length=8)],
    start: Annotated[dt.datetime | None, Query(alias="from")] = None,
    end: Annotated[dt.datetime | None, Query(alias="to")] = None,
    cursor_text: Annotated[str | None, Query(alias="cursor", max_length=120)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    format: Literal["json", "csv"] = "json",
) -> dict[str, Any] | PlainTextResponse:
    """The merchant account's movements in `currency`, as your own statement: payments in,
    refunds out, with the payer as counterparty. At most 366 days (default: the last 30)."""
    await runtime.wallet.merchants.access_owned(identity, merchant_id)
    runtime.wallet.policy.parse("1", currency)
    end = aware(end) if end else runtime.clock.now() + dt.timedelta(seconds=1)
    start = aware(start) if start else end - dt.timedelta(days=30)
    statements = runtime.wallet.statements
    if format == "csv":
        everything = StatementQuery(currency, start, end, None, 100_000)
        lines = await statements.merchant_lines(merchant_id, everything)
        return PlainTextResponse(to_csv(lines), media_type="text/csv; charset=utf-8")
    query = StatementQuery(currency, start, end, page_cursor(cursor_text), limit)
    lines = await statements.merchant_lines(merchant_id, query)
    last = lines[-1] if len(lines) == limit else None
    return {
        "currency": currency,
        "lines": lines,
        "next_cursor": f"{last['posted_at']}|{last['entry_id']}" if last else None,
    }
