"""Provider reconciliation (admin, finance): the daily runs, one run's items, resolving an
exception once with a note, and reconciling a day on demand."""

from __future__ import annotations

import datetime as dt

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
from courtyard.core.errors import CourtyardError, InvalidInput, NotFound
from courtyard.domains.wallet.reconcile import COUNTED

RECONCILIATION = ("admin", "finance")
RESOLVE = ("admin", "finance")  # the roles ``Resolutions.resolve_item`` admits
SHOWN = 100
RUNS = "/wallet/reconciliation"
MAX_ITEM_NO = 2**31 - 1
# The order a run's counts are shown in (a JSON column on PostgreSQL keeps no key order).
COUNT_ORDER = ("lines", *COUNTED)
# What each resolution does, as the form offers it (docs/wallet.md, "Reconciliation").
RESOLUTIONS = (
    ("dismissed", "dismiss: record the decision, change nothing"),
    ("applied_provider_status", "apply the provider's final status to the operation"),
    ("adjusted", "adjust: book the difference against suspense"),
)


def _run_path(run_id: str) -> str:
    return f"{RUNS}/runs/{run_id}"


async def _runs_page(
    request: Request, viewer: Viewer, status: int = 200, problem: str | None = None, day: str = ""
) -> Response:
    console = services(request)
    yesterday = console.clock.now().date() - dt.timedelta(days=1)
    return render(
        request, viewer, "reconciliation_runs.html", status,
        runs=await console.reconciliation.list_reconciliation_runs(SHOWN),
        day=day or yesterday.isoformat(), problem=problem, shown=SHOWN, order=COUNT_ORDER,
    )  # fmt: skip


@requires(*RECONCILIATION)
async def runs(request: Request, viewer: Viewer) -> Response:
    return await _runs_page(request, viewer)


def _day(text: str, today: dt.date) -> dt.date:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput("Give the day as YYYY-MM-DD (UTC).") from None
    if day > today:
        raise InvalidInput("That day has not begun yet (UTC): nothing to reconcile.")
    return day


@requires(*RECONCILIATION)
async def reconcile_day(request: Request, viewer: Viewer) -> Response:
    console = services(request)
    text = form_text(await request.form(), "day", 32)
    try:
        day = _day(text, console.clock.now().date())
        run = await console.reconciliation.do_reconcile(day, operator_id=viewer.operator_id)
    except CourtyardError as exc:
        return await _runs_page(request, viewer, status_of(exc), exc.detail, text)
    return go(request, _run_path(run.run_id))


async def _run_page(
    request: Request,
    viewer: Viewer,
    run_id: str,
    status: int = 200,
    problem: str | None = None,
    retry: tuple[int, str] | None = None,
) -> Response:
    """The run and its items; ``retry`` is a refused resolution's item number and note, put
    back into that item's form."""
    console = services(request)
    run = await console.reconciliation.reconciliation_run(run_id)
    if run is None:
        raise NotFound("No reconciliation run has this id.")
    names = {o.operator_id: o.username for o in await console.operators.get_operators()}
    return render(
        request, viewer, "reconciliation_run.html", status,
        run=run, names=names, problem=problem, retry=retry or (0, ""), order=COUNT_ORDER,
        resolutions=RESOLUTIONS, may_resolve=viewer.may(RESOLVE),
    )  # fmt: skip


@requires(*RECONCILIATION)
async def run(request: Request, viewer: Viewer) -> Response:
    return await _run_page(request, viewer, request.path_params["run_id"])


@requires(*RESOLVE)
async def resolve(request: Request, viewer: Viewer) -> Response:
    run_id: str = request.path_params["run_id"]
    item_no: int = request.path_params["item_no"]
    if item_no > MAX_ITEM_NO:  # beyond the column's range: no such item, not a database error
        raise NotFound("No such reconciliation item.")
    form = await request.form()
    note = form_text(form, "note")
    try:
        await services(request).resolutions.resolve_item(
            viewer.operator_id, run_id, item_no, form_text(form, "resolution", 64), note
        )
    except CourtyardError as exc:
        # Shown on the run's page, with the note kept, so the operator can try again.
        problem = f"Item #{item_no} was not resolved: {exc.detail}"
        return await _run_page(request, viewer, run_id, status_of(exc), problem, (item_no, note))
    return go(request, _run_path(run_id))


pages = Pages(
    routes=[
        Route(RUNS, runs, methods=["GET"]),
        Route(RUNS + "/runs", reconcile_day, methods=["POST"]),
        Route(_run_path("{run_id}"), run, methods=["GET"]),
        Route(_run_path("{run_id}") + "/items/{item_no:int}/resolve", resolve, methods=["POST"]),
    ],
    links=[
        Link(
            "Wallet",
            "Reconciliation",
            RUNS,
            RECONCILIATION,
            "Daily runs against the payment provider; resolve their exceptions with a note.",
        ),
    ],
)
