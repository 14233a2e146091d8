"""Ledger audit runs (admin, finance): the recorded runs, one run's findings, and a full
audit on demand. Nothing is corrected automatically; the findings say where to look."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.admin.guard import requires
from courtyard.admin.pages import Link, Pages, Viewer, go, render, services
from courtyard.core.errors import NotFound
from courtyard.domains.wallet.audit import ACCOUNT_CHECKS, ENTRY_CHECKS

AUDITS = ("admin", "finance")
SHOWN = 100
RUNS = "/wallet/audits"
# Findings whose subject has a page of its own (a posting without its entry has none).
LINKED_ACCOUNTS = ACCOUNT_CHECKS
LINKED_ENTRIES = ENTRY_CHECKS - {"posting_has_entry"}


@requires(*AUDITS)
async def runs(request: Request, viewer: Viewer) -> Response:
    found = await services(request).audits.list_audit_runs(SHOWN)
    return render(request, viewer, "audit_runs.html", runs=found, shown=SHOWN)


@requires(*AUDITS)
async def run_full_audit(request: Request, viewer: Viewer) -> Response:
    # A full scan, in this request: the CLI's ``audit --full`` does the same.
    view = await services(request).audits.do_audit(full=True, operator_id=viewer.operator_id)
    return go(request, f"{RUNS}/{view.run_id}")


@requires(*AUDITS)
async def run(request: Request, viewer: Viewer) -> Response:
    view = await services(request).audits.get_audit_run(request.path_params["run_id"])
    if view is None:
        raise NotFound("No audit run has this id.")
    return render(
        request, viewer, "audit_run.html",
        run=view, account_checks=LINKED_ACCOUNTS, entry_checks=LINKED_ENTRIES,
    )  # fmt: skip


pages = Pages(
    routes=[
        Route(RUNS, runs, methods=["GET"]),
        Route(RUNS, run_full_audit, methods=["POST"]),
        Route(RUNS + "/{run_id}", run, methods=["GET"]),
    ],
    links=[
        Link(
            "Wallet",
            "Ledger audits",
            RUNS,
            AUDITS,
            "The recorded ledger audits and their findings; run a full audit now.",
        ),
    ],
)
