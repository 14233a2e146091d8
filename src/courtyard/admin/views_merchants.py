"""Merchants and billers: who takes QR payments and who users pay bills to. Admin and finance
register them and switch them off and on (each change an ``operator_actions`` row); support
sees the lists."""

from __future__ import annotations

from typing import Literal

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.admin.guard import requires
from courtyard.admin.pages import (
    Link,
    Pages,
    Viewer,
    form_text,
    go,
    render,
    services,
    status_of,
)
from courtyard.core.errors import CourtyardError, InvalidInput
from courtyard.domains.wallet import MerchantRegistration
from courtyard.domains.wallet.billers import BillerSpec

VIEW = ("admin", "finance", "support")
MANAGE = ("admin", "finance")
MERCHANTS = "/wallet/merchants"
BILLERS = "/wallet/billers"
MERCHANT_FIELDS = ("owner", "name", "category", "fee_bps")
BILLER_FIELDS = ("name", "category", "currency", "pattern", "hint", "min", "max")


def _values(form: FormData | None, names: tuple[str, ...]) -> dict[str, str]:
    """What the operator typed, to put back into the form after a refusal."""
    return {name: form_text(form, name) if form else "" for name in names}


async def _merchants_page(
    request: Request,
    viewer: Viewer,
    status: int = 200,
    problem: str | None = None,
    form: FormData | None = None,
) -> Response:
    registry = services(request).merchants
    return render(
        request, viewer, "merchants.html", status,
        merchants=await registry.list_all(), categories=registry.categories,
        currencies=registry.currencies, may_manage=viewer.may(MANAGE), problem=problem,
        values=_values(form, MERCHANT_FIELDS),
        checked=form.getlist("currency") if form else registry.currencies[:1],
    )  # fmt: skip


@requires(*VIEW)
async def merchants(request: Request, viewer: Viewer) -> Response:
    return await _merchants_page(request, viewer)


def _fee_bps(text: str) -> int:
    try:
        return int(text or "0")
    except ValueError:
        raise InvalidInput("The fee is a whole number of basis points (100 = 1 %).") from None


@requires(*MANAGE)
async def register_merchant(request: Request, viewer: Viewer) -> Response:
    form = await request.form()
    registry = services(request).merchants
    currencies = tuple(c for c in form.getlist("currency") if isinstance(c, str))
    try:
        owner_id = await registry.access_owner_id(form_text(form, "owner", 64))
        registration = MerchantRegistration(
            owner_id, form_text(form, "name", 200), form_text(form, "category", 32),
            currencies, _fee_bps(form_text(form, "fee_bps", 16)),
        )  # fmt: skip
        await registry.do_register(registration, operator_id=viewer.operator_id)
    except CourtyardError as exc:
        return await _merchants_page(request, viewer, status_of(exc), exc.detail, form)
    return go(request, MERCHANTS)


async def _set_merchant_status(
    request: Request, viewer: Viewer, status: Literal["active", "suspended"]
) -> Response:
    await services(request).merchants.do_set_status(
        request.path_params["merchant_id"], status, operator_id=viewer.operator_id
    )
    return go(request, MERCHANTS)


@requires(*MANAGE)
async def suspend_merchant(request: Request, viewer: Viewer) -> Response:
    return await _set_merchant_status(request, viewer, "suspended")


@requires(*MANAGE)
async def activate_merchant(request: Request, viewer: Viewer) -> Response:
    return await _set_merchant_status(request, viewer, "active")


async def _billers_page(
    request: Request,
    viewer: Viewer,
    status: int = 200,
    problem: str | None = None,
    form: FormData | None = None,
) -> Response:
    registry = services(request).billers
    return render(
        request, viewer, "billers.html", status,
        billers=await registry.list_billers(enabled_only=False),
        categories=registry.categories, currencies=registry.currencies,
        may_manage=viewer.may(MANAGE), problem=problem, values=_values(form, BILLER_FIELDS),
    )  # fmt: skip


@requires(*VIEW)
async def billers(request: Request, viewer: Viewer) -> Response:
    return await _billers_page(request, viewer)


@requires(*MANAGE)
async def register_biller(request: Request, viewer: Viewer) -> Response:
    form = await request.form()
    typed = _values(form, BILLER_FIELDS)
    spec = BillerSpec(
        typed["name"], typed["category"], typed["currency"], typed["pattern"], typed["hint"],
        typed["min"], typed["max"],
    )  # fmt: skip
    try:
        await services(request).billers.do_create_biller(spec, operator_id=viewer.operator_id)
    except CourtyardError as exc:
        return await _billers_page(request, viewer, status_of(exc), exc.detail, form)
    return go(request, BILLERS)


async def _set_biller_enabled(request: Request, viewer: Viewer, enabled: bool) -> Response:
    await services(request).billers.do_set_enabled(
        request.path_params["biller_id"], enabled, operator_id=viewer.operator_id
    )
    return go(request, BILLERS)


@requires(*MANAGE)
async def disable_biller(request: Request, viewer: Viewer) -> Response:
    return await _set_biller_enabled(request, viewer, False)


@requires(*MANAGE)
async def enable_biller(request: Request, viewer: Viewer) -> Response:
    return await _set_biller_enabled(request, viewer, True)


pages = Pages(
    routes=[
        Route(MERCHANTS, merchants, methods=["GET"]),
        Route(MERCHANTS, register_merchant, methods=["POST"]),
        Route(MERCHANTS + "/{merchant_id}/suspend", suspend_merchant, methods=["POST"]),
        Route(MERCHANTS + "/{merchant_id}/activate", activate_merchant, methods=["POST"]),
        Route(BILLERS, billers, methods=["GET"]),
        Route(BILLERS, register_biller, methods=["POST"]),
        Route(BILLERS + "/{biller_id}/disable", disable_biller, methods=["POST"]),
        Route(BILLERS + "/{biller_id}/enable", enable_biller, methods=["POST"]),
    ],
    links=[
        Link(
            "Wallet",
            "Merchants",
            MERCHANTS,
            VIEW,
            "Shops that take QR payments: register, suspend or reactivate one.",
        ),
        Link(
            "Wallet",
            "Billers",
            BILLERS,
            VIEW,
            "Who users can pay bills to: register, disable or enable one.",
        ),
    ],
)
