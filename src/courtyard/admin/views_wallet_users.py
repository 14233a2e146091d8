"""A user's wallet summary (admin, finance, support) and freezing accounts (admin, finance)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.admin.guard import requires
from courtyard.admin.pages import Link, Pages, Viewer, go, local_path, render, services
from courtyard.admin.views_ledger import FREEZE, LEDGER

SUMMARY = ("admin", "finance", "support")


@requires(*SUMMARY)
async def user_summary(request: Request, viewer: Viewer) -> Response:
    username = request.query_params.get("username", "").strip()
    summary = None
    if username:
        summary = await services(request).wallet.users.access_summary(viewer.operator_id, username)
    return render(
        request, viewer, "wallet_user.html",
        username=username, summary=summary,
        may_freeze=viewer.may(FREEZE), may_browse=viewer.may(LEDGER),
    )  # fmt: skip


async def _change(request: Request, viewer: Viewer, action: str) -> Response:
    account_id = request.path_params["account_id"]
    form = await request.form()
    note = form.get("note")
    freezing = services(request).wallet.freezing
    change = freezing.do_freeze if action == "freeze" else freezing.do_unfreeze
    await change(viewer.operator_id, account_id, note if isinstance(note, str) else None)
    back = form.get("back")
    return go(
        request,
        local_path(
            request, back if isinstance(back, str) else None, f"/ledger/accounts/{account_id}"
        ),
    )


@requires(*FREEZE)
async def freeze(request: Request, viewer: Viewer) -> Response:
    return await _change(request, viewer, "freeze")


@requires(*FREEZE)
async def unfreeze(request: Request, viewer: Viewer) -> Response:
    return await _change(request, viewer, "unfreeze")


pages = Pages(
    routes=[
        Route("/wallet/users", user_summary, methods=["GET"]),
        Route("/wallet/accounts/{account_id}/freeze", freeze, methods=["POST"]),
        Route("/wallet/accounts/{account_id}/unfreeze", unfreeze, methods=["POST"]),
    ],
    links=[
        Link(
            "Wallet",
            "User wallets",
            "/wallet/users",
            SUMMARY,
            "One user's balances, PIN lock state and open flows, by username.",
        ),
    ],
)
