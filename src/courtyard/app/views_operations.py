"""Top-ups and withdrawals from the wallet home: the two forms post here, through the SDK's
``client.wallet``, and the answer is the operation's state, which then follows the
``wallet.operation`` events (it is re-fetched on each of the device's updates until final)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.app.pages import problem, render, state
from courtyard.app.views_auth import explain
from courtyard.client import ApiError, ClientError
from courtyard.client.wallet import Operation

# States after which an operation never changes again; the status stops re-fetching there.
FINAL_STATES = frozenset({"succeeded", "failed", "expired"})
STATE_TEXT = {
    ("topup", "created"): "started",
    ("topup", "pending"): "waiting for your payment at the provider",
    ("topup", "succeeded"): "done: the money is in your balance",
    ("topup", "failed"): "failed: nothing was added",
    ("topup", "expired"): "expired: nothing was added",
    ("withdrawal", "held"): "taken from your balance and held until the provider pays it out",
    ("withdrawal", "submitted"): "sent to the provider",
    ("withdrawal", "succeeded"): "done: paid out to your bank account",
    ("withdrawal", "failed"): "failed: the money is back in your balance",
}


async def topup(request: Request) -> Response:
    """Start a top-up from the payment provider (no PIN: it adds money)."""
    form = await request.form()
    amount, currency = (str(form.get(name, "")).strip() for name in ("amount", "currency"))
    if not (amount and currency):
        return problem(request, "Fill in the amount and the currency.")
    try:
        started = await state(request).use(lambda m: m.client.wallet.topup(amount, currency))
    except ClientError as exc:
        return problem(request, refusal(exc))
    await state(request).changed()
    return show(request, started)


async def withdraw(request: Request) -> Response:
    """Send money to a bank account; the PIN travels in this request only and is not kept."""
    form = await request.form()
    amount, currency, destination, pin = (
        str(form.get(name, "")).strip() for name in ("amount", "currency", "destination", "pin")
    )
    if not (amount and currency and destination and pin):
        return problem(request, "Fill in the amount, the currency, the account token and your PIN.")
    try:
        started = await state(request).use(
            lambda m: m.client.wallet.withdraw(amount, currency, destination, pin=pin)
        )
    except ClientError as exc:
        return problem(request, refusal(exc))
    await state(request).changed()
    return show(request, started)


async def operation_status(request: Request) -> Response:
    """One top-up or withdrawal in its current state (htmx re-fetches it on updates)."""
    operation_id = request.path_params["operation_id"]
    try:
        current = await state(request).use(lambda m: m.client.wallet.operation(operation_id))
    except ClientError as exc:
        return problem(request, refusal(exc))
    return show(request, current)


def show(request: Request, operation: Operation) -> Response:
    text = STATE_TEXT.get((operation.kind, operation.state), operation.state)
    return render(
        request, "_operation.html", operation=operation, state_text=text,
        final=operation.state in FINAL_STATES, pay_url=pay_url(operation),
    )  # fmt: skip


def pay_url(operation: Operation) -> str | None:
    """Where the payer finishes a top-up at the provider, while that can still matter; only
    a web address (a ``javascript:`` one from a hostile server is never made a link)."""
    url = (operation.next_action or {}).get("pay_url")
    if operation.state not in ("created", "pending") or not isinstance(url, str):
        return None
    return url if url.startswith(("https://", "http://")) else None


def refusal(exc: ClientError) -> str:
    """The server's words for a refusal, and its stable code so it can be looked up."""
    if not isinstance(exc, ApiError):
        return explain(exc)
    left = exc.extra.get("attempts_left")
    tries = f" {left} tries left." if isinstance(left, int) else ""
    return f"{explain(exc)} ({exc.code}).{tries}"


routes = [
    Route("/wallet/topups", topup, methods=["POST"]),
    Route("/wallet/withdrawals", withdraw, methods=["POST"]),
    Route("/wallet/operations/{operation_id}", operation_status),
]
