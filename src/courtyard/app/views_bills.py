"""The bills page (pay a registered biller, see recent bills) and the statement page (a month's
lines, CSV and JSON downloads, and a bar chart of spending by category drawn as inline SVG
by the template: no script, so the strict CSP holds), through the SDK's ``client.wallet``."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.app.pages import go, problem, render, state
from courtyard.app.views_auth import explain
from courtyard.client import ClientError
from courtyard.client.bill_models import Bill, Biller, Spending
from courtyard.client.messenger import Messenger
from courtyard.client.wallet import Statement, StatementLine
from courtyard.core.money import Money

RECENT_BILLS = 20
STATEMENT_PAGE = 500
MONTH = re.compile(r"(\d{4})-(\d{2})")
# Chart geometry, in SVG user units: a label column, then bars up to BAR_SPAN long.
LABEL_WIDTH, BAR_SPAN, AMOUNT_WIDTH = 130, 300, 130
BAR_HEIGHT, BAR_GAP = 22, 10


# --- bills ---------------------------------------------------------------------------------


async def bills(request: Request) -> Response:
    """Choose a biller (its hint under the choice), give the reference, amount and PIN; the
    recent bills below, the one just paid marked."""
    if not state(request).unlocked:
        return go(request, "/welcome")

    async def read(m: Messenger) -> tuple[list[Biller], tuple[Bill, ...]]:
        page = await m.client.wallet.bills(limit=RECENT_BILLS)
        return await m.client.wallet.billers(), page.bills

    try:
        billers, recent = await state(request).use(read)
    except ClientError as exc:
        return problem(request, explain(exc))
    wanted = request.query_params.get("biller")
    chosen = next((b for b in billers if b.biller_id == wanted), billers[0] if billers else None)
    paid = next((b for b in recent if b.bill_id == request.query_params.get("paid")), None)
    return render(
        request, "bills.html", current="wallet", billers=billers, chosen=chosen, recent=recent,
        paid=paid,
    )  # fmt: skip


async def biller_hint(request: Request) -> Response:
    """The chosen biller's reference hint and bounds (htmx swaps it in on a change)."""
    wanted = request.query_params.get("biller_id", "")
    try:
        billers = await state(request).use(lambda m: m.client.wallet.billers())
    except ClientError as exc:
        return problem(request, explain(exc))
    chosen = next((b for b in billers if b.biller_id == wanted), None)
    return render(request, "_biller_hint.html", chosen=chosen)


async def pay_bill(request: Request) -> Response:
    """Pay the chosen biller in its currency; the PIN travels in this request only."""
    form = await request.form()
    biller_id, reference, amount, pin = (
        str(form.get(name, "")).strip() for name in ("biller_id", "reference", "amount", "pin")
    )
    if not (biller_id and reference and amount and pin):
        return problem(request, "Choose a biller and fill in the reference, amount and PIN.")

    async def pay(m: Messenger) -> Bill:
        billers = await m.client.wallet.billers()
        biller = next((b for b in billers if b.biller_id == biller_id), None)
        if biller is None:
            raise LookupError("This biller takes no payments now; choose another.")
        return await m.client.wallet.pay_bill(biller, reference, amount, biller.currency, pin=pin)

    try:
        paid = await state(request).use(pay)
    except LookupError as exc:
        return problem(request, str(exc))
    except ClientError as exc:
        return problem(request, explain(exc))
    return go(request, f"/wallet/bills?paid={paid.bill_id}")


# --- statement -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One category's bar: its label, amount and place in the chart."""

    category: str
    label: str
    spent: Money
    y: int
    width: int


@dataclass(frozen=True)
class Chart:
    bars: tuple[Bar, ...]
    width: int
    height: int
    label_width: int = LABEL_WIDTH
    bar_height: int = BAR_HEIGHT

    @classmethod
    def of(cls, spending: Spending) -> Chart:
        """Bars scaled to the largest category (integers only: amounts never meet a float)."""
        largest = max((c.spent.amount_minor for c in spending.categories), default=0)
        bars = tuple(
            Bar(
                category=c.category,
                label=c.category.replace("_", " ").capitalize(),
                spent=c.spent,
                y=BAR_GAP + n * (BAR_HEIGHT + BAR_GAP),
                width=max(2, BAR_SPAN * c.spent.amount_minor // largest),
            )
            for n, c in enumerate(spending.categories)
        )
        height = BAR_GAP + len(bars) * (BAR_HEIGHT + BAR_GAP)
        return cls(bars, LABEL_WIDTH + BAR_SPAN + AMOUNT_WIDTH, height)


@dataclass(frozen=True)
class Month:
    first: dt.datetime  # 00:00 UTC on the 1st
    after: dt.datetime  # the next month's first

    @property
    def text(self) -> str:
        return self.first.strftime("%Y-%m")

    @property
    def title(self) -> str:
        return self.first.strftime("%B %Y")

    @property
    def previous(self) -> str:
        return (self.first - dt.timedelta(days=1)).strftime("%Y-%m")

    @property
    def next(self) -> str:
        return self.after.strftime("%Y-%m")


def month_of(text: str | None) -> Month | None:
    """The month ``YYYY-MM`` names (this month when not given); None if malformed."""
    if not text:
        now = dt.datetime.now(dt.UTC)
        first = dt.datetime(now.year, now.month, 1, tzinfo=dt.UTC)
    else:
        match = MONTH.fullmatch(text)
        if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1970:
            return None
        first = dt.datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=dt.UTC)
    after = (first + dt.timedelta(days=32)).replace(day=1)
    return Month(first, after)


async def statement(request: Request) -> Response:
    """A month's statement lines and its spending chart, in one currency."""
    if not state(request).unlocked:
        return go(request, "/welcome")
    month = month_of(request.query_params.get("month"))
    if month is None:
        return problem(request, "Choose a month as YYYY-MM.")

    async def read(m: Messenger) -> dict[str, Any]:
        balances = list(await m.client.wallet.balance())
        currencies = [b.currency for b in balances]
        held = [b.currency for b in balances if b.balance.amount_minor != 0]
        currency = request.query_params.get("currency") or (held or currencies or ["CNY"])[0]
        page = await m.client.wallet.statement(
            currency, month.first, month.after, limit=STATEMENT_PAGE
        )
        spending = await m.client.wallet.spending(month.first, month.after, currency)
        return {"currencies": currencies, "currency": currency, "statement": page,
                "spending": spending, "chart": Chart.of(spending)}  # fmt: skip

    try:
        shown = await state(request).use(read)
    except ClientError as exc:
        return problem(request, explain(exc))
    return render(request, "statement.html", current="wallet", month=month, **shown)


async def download(request: Request) -> Response:
    """The month's whole statement as a CSV or JSON file."""
    kind = request.path_params["kind"]
    month = month_of(request.query_params.get("month"))
    currency = request.query_params.get("currency", "")
    if kind not in ("csv", "json") or month is None or not currency:
        return Response("Give a month (YYYY-MM) and a currency.", status_code=400)
    name = f"statement-{month.text}-{currency}.{kind}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}

    async def fetch(m: Messenger) -> str:
        wallet = m.client.wallet
        if kind == "csv":
            return await wallet.statement(currency, month.first, month.after, format="csv")
        lines: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page: Statement = await wallet.statement(
                currency, month.first, month.after, cursor=cursor, limit=STATEMENT_PAGE
            )
            lines += [line_json(line) for line in page.lines]
            if (cursor := page.next_cursor) is None:
                break
        body = {"currency": currency, "from": month.first.isoformat(),
                "to": month.after.isoformat(), "lines": lines}  # fmt: skip
        return json.dumps(body, indent=2)

    try:
        text = await state(request).use(fetch)
    except ClientError as exc:
        return Response(explain(exc), status_code=502)
    media = "text/csv; charset=utf-8" if kind == "csv" else "application/json"
    return Response(text, media_type=media, headers=headers)


def line_json(line: StatementLine) -> dict[str, Any]:
    """A statement line as the server's JSON statement has it."""
    flow = {"kind": line.flow_kind, "id": line.flow_id} if line.flow_id else None
    return {
        "posted_at": line.posted_at.isoformat().replace("+00:00", "Z"),
        "entry_id": line.entry_id,
        "kind": line.kind,
        "category": line.category,
        "flow": flow,
        "counterparty": {
            "kind": line.counterparty_kind,
            "id": line.counterparty_id,
            "name": line.counterparty_name,
        },
        "amount": line.amount.to_wire(),
        "balance_after": line.balance_after.to_wire(),
    }


routes = [
    Route("/wallet/bills", bills),
    Route("/wallet/bills", pay_bill, methods=["POST"]),
    Route("/wallet/bills/hint", biller_hint),
    Route("/wallet/statement", statement),
    Route("/wallet/statement.{kind}", download),
]
