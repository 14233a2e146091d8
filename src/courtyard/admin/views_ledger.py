"""The ledger browser: search, account, entry and flow pages (admin and finance)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.admin.guard import requires
from courtyard.admin.pages import Link, Pages, Viewer, render, services

LEDGER = ("admin", "finance")
FREEZE = ("admin", "finance")
ACCOUNT_HISTORY = 20  # operator actions shown on an account page


@requires(*LEDGER)
async def search(request: Request, viewer: Viewer) -> Response:
    query = request.query_params.get("q", "")
    results = await services(request).wallet.ledger.search(viewer.operator_id, query)
    return render(request, viewer, "ledger_search.html", results=results, query=query)


@requires(*LEDGER)
async def account(request: Request, viewer: Viewer) -> Response:
    account_id = request.path_params["account_id"]
    console = services(request)
    page = await console.wallet.ledger.access_account(
        viewer.operator_id, account_id, request.query_params.get("older")
    )
    history = await console.actions.get_latest(
        target=f"account:{account_id}", limit=ACCOUNT_HISTORY
    )
    return render(
        request, viewer, "ledger_account.html",
        page=page, history=history, may_freeze=viewer.may(FREEZE),
    )  # fmt: skip


@requires(*LEDGER)
async def entry(request: Request, viewer: Viewer) -> Response:
    page = await services(request).wallet.ledger.access_entry(
        viewer.operator_id, request.path_params["entry_id"]
    )
    return render(request, viewer, "ledger_entry.html", entry=page)


@requires(*LEDGER)
async def flow(request: Request, viewer: Viewer) -> Response:
    page = await services(request).wallet.flows.access_flow(
        viewer.operator_id, request.path_params["flow_kind"], request.path_params["flow_id"]
    )
    return render(request, viewer, "ledger_flow.html", flow=page)


pages = Pages(
    routes=[
        Route("/ledger", search, methods=["GET"]),
        Route("/ledger/accounts/{account_id}", account, methods=["GET"]),
        Route("/ledger/entries/{entry_id}", entry, methods=["GET"]),
        Route("/ledger/flows/{flow_kind}/{flow_id}", flow, methods=["GET"]),
    ],
    links=[
        Link(
            "Wallet",
            "Ledger browser",
            "/ledger",
            LEDGER,
            "Find an account by username, account, entry or flow id; balances and postings.",
        ),
    ],
)
