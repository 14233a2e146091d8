"""Pay by QR code (``/wallet/pay``: paste a code's text or open a ``courtyard://pay`` link,
see whom you pay, give the amount for a static code and the PIN) and the merchant page for
owners (``/wallet/merchant``: codes drawn as QR images on this device, payments, refunds),
all through the SDK's ``client.wallet``.

A code is checked on this device against the server's signing keys before its merchant is
shown; camera scanning is not built. A link ``/wallet/pay?p=…&s=…`` carries the same query
as ``courtyard://pay?p=…&s=…``, so an OS handler for the scheme can open this page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.app.pages import go, problem, render, state, templates
from courtyard.app.views_auth import explain
from courtyard.client import ClientError
from courtyard.client.messenger import Messenger
from courtyard.client.payment_models import Merchant, Payment, QrCode, ResolvedQr
from courtyard.client.wallet_payments import svg_data_uri
from courtyard.core.qr_payload import URI_PREFIX

RECENT_PAYMENTS = 20


@dataclass(frozen=True)
class MerchantView:
    """One owned merchant as the page shows it."""

    merchant: Merchant
    codes: list[QrCode]
    payments: tuple[Payment, ...]


def code_from(request: Request) -> str | None:
    """The code in the address: ``?qr=<the whole text>`` (the paste form) or ``?p=…&s=…``
    (an opened ``courtyard://pay`` link)."""
    params = request.query_params
    if qr := params.get("qr", "").strip():
        return qr
    if "p" in params and "s" in params:
        return f"{URI_PREFIX}p={params['p']}&s={params['s']}"
    return None


# --- paying --------------------------------------------------------------------------------


async def pay_page(request: Request) -> Response:
    """Paste a code (or arrive with one); once it checks out, confirm with the PIN."""
    if not state(request).unlocked:
        return go(request, "/welcome")
    code = code_from(request)
    paid_id = request.query_params.get("paid")
    resolved: ResolvedQr | None = None
    paid: Payment | None = None
    error: str | None = None
    try:
        if code is not None:
            resolved = await state(request).use(lambda m: m.client.wallet.resolve_qr(code))
        if paid_id:
            paid = await state(request).use(lambda m: m.client.wallet.payment(paid_id))
    except ClientError as exc:
        error = explain(exc)
    return render(
        request, "wallet_pay.html", current="wallet", code=code, resolved=resolved, paid=paid,
        error=error,
    )  # fmt: skip


async def pay(request: Request) -> Response:
    """Pay the confirmed code; the PIN travels in this request only."""
    form = await request.form()
    code, amount, pin = (str(form.get(name, "")).strip() for name in ("qr", "amount", "pin"))
    if not (code and pin):
        return problem(request, "Paste a payment code and give your PIN.")

    async def send(m: Messenger) -> Payment:
        return await m.client.wallet.pay(code, amount or None, pin=pin)

    try:
        paid = await state(request).use(send)
    except ClientError as exc:
        return problem(request, explain(exc))
    await state(request).changed()
    return go(request, f"/wallet/pay?paid={quote(paid.payment_id)}")


# --- merchant owners -----------------------------------------------------------------------


async def merchant_page(request: Request) -> Response:
    """Your merchants: their codes as QR images, recent payments, and refunds."""
    if not state(request).unlocked:
        return go(request, "/welcome")

    async def read(m: Messenger) -> list[MerchantView]:
        views = []
        for merchant in await m.client.wallet.merchants():
            codes = await m.client.wallet.qr_list(merchant.merchant_id)
            page = await m.client.wallet.merchant_payments(
                merchant.merchant_id, limit=RECENT_PAYMENTS
            )
            views.append(MerchantView(merchant, codes, page.payments))
        return views

    try:
        merchants = await state(request).use(read)
    except ClientError as exc:
        return problem(request, explain(exc))
    return render(request, "wallet_merchant.html", current="wallet", merchants=merchants)


async def create_code(request: Request) -> Response:
    """A new code: fixed when an amount is given, else static."""
    merchant_id = request.path_params["merchant_id"]
    form = await request.form()
    amount, currency, label = (
        str(form.get(name, "")).strip() for name in ("amount", "currency", "label")
    )
    if not currency:
        return problem(request, "Choose the code's currency.")

    async def make(m: Messenger) -> QrCode:
        return await m.client.wallet.qr_create(
            merchant_id, currency.upper(), amount or None, label=label
        )

    try:
        await state(request).use(make)
    except ClientError as exc:
        return problem(request, explain(exc))
    return go(request, "/wallet/merchant")


async def revoke_code(request: Request) -> Response:
    merchant_id, qr_id = request.path_params["merchant_id"], request.path_params["qr_id"]
    try:
        await state(request).use(lambda m: m.client.wallet.qr_revoke(qr_id, merchant_id))
    except ClientError as exc:
        return problem(request, explain(exc))
    return go(request, "/wallet/merchant")


async def refund(request: Request) -> Response:
    """Give back part or all of a payment; the owner's PIN travels in this request only."""
    payment_id = request.path_params["payment_id"]
    form = await request.form()
    amount, pin = (str(form.get(name, "")).strip() for name in ("amount", "pin"))
    if not (amount and pin):
        return problem(request, "Give the amount to refund and your PIN.")
    try:
        await state(request).use(lambda m: m.client.wallet.refund(payment_id, amount, pin=pin))
    except ClientError as exc:
        return problem(request, explain(exc))
    await state(request).changed()
    return go(request, "/wallet/merchant")


def qr_image(payload: Any) -> str:
    """A code's QR image as a data URI (the CSP allows ``data:`` images, not inline SVG
    styles), drawn here from the payload: the server is not asked for it."""
    return svg_data_uri(str(payload))


templates.env.globals.update(qr_image=qr_image)

routes = [
    Route("/wallet/pay", pay_page),
    Route("/wallet/pay", pay, methods=["POST"]),
    Route("/wallet/merchant", merchant_page),
    Route("/wallet/merchant/{merchant_id}/qr", create_code, methods=["POST"]),
    Route("/wallet/merchant/{merchant_id}/qr/{qr_id}/revoke", revoke_code, methods=["POST"]),
    Route("/wallet/merchant/payments/{payment_id}/refund", refund, methods=["POST"]),
]
