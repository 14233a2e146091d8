"""The wallet home (balances, PIN, transfers to accept or return, a send form, recent
statement lines) and the wallet in chats (transfer and red-packet cards and forms), all
through the SDK's ``client.wallet``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.app.pages import go, problem, render, state, templates
from courtyard.app.views_auth import explain
from courtyard.app.views_chat import messages
from courtyard.client import ApiError, ClientError
from courtyard.client.conversations import get_conversation
from courtyard.client.inbox import RED_PACKET_CARD, card_key
from courtyard.client.messenger import Messenger
from courtyard.client.models import parse_time
from courtyard.client.wallet import Overview, StatementLine, Transfer
from courtyard.client.wallet_models import money

RECENT_LINES = 20
# A grab refused for these reasons is an answer to show on the card, not an error.
GRAB_OUTCOMES = {"red_packet_empty": "empty", "red_packet_expired": "expired"}


async def wallet(request: Request) -> Response:
    if not state(request).unlocked:
        return go(request, "/welcome")

    async def read(m: Messenger) -> dict[str, Any]:
        overview = await m.client.wallet.overview()
        # Recent activity of the first currency with money in it.
        held = [b for b in overview.balances if b.balance.amount_minor != 0]
        first = (held or list(overview.balances))[:1]
        lines: tuple[StatementLine, ...] = ()
        if first:
            statement = await m.client.wallet.statement(first[0].currency, limit=RECENT_LINES)
            lines = statement.lines
        pending = await m.client.wallet.transfers(role="received", state="pending")
        return {"overview": overview, "lines": lines, "pending": pending}

    try:
        shown = await state(request).use(read)
    except ClientError as exc:
        return problem(request, explain(exc))
    return render(request, "wallet.html", current="wallet", **shown)


async def set_pin(request: Request) -> Response:
    """Set the PIN with the account password, or change it with the current PIN."""
    form = await request.form()
    pin = str(form.get("pin", ""))
    password = str(form.get("password", "")) or None
    current_pin = str(form.get("current_pin", "")) or None
    if (password is None) == (current_pin is None):
        return problem(request, "Give either your account password or your current PIN.")
    try:
        await state(request).use(
            lambda m: m.client.wallet.set_pin(pin, password=password, current_pin=current_pin)
        )
    except ClientError as exc:
        return problem(request, explain(exc))
    return go(request, "/wallet")


async def send(request: Request) -> Response:
    """Send money; the PIN travels in this request only and is not kept."""
    form = await request.form()
    to, amount, currency, pin = (
        str(form.get(name, "")).strip() for name in ("to", "amount", "currency", "pin")
    )
    if not (to and amount and currency and pin):
        return problem(request, "Fill in who, how much, the currency and your PIN.")
    try:
        await state(request).use(
            lambda m: m.client.wallet.transfer(to, amount, currency.upper(), pin=pin)
        )
    except ClientError as exc:
        return problem(request, explain(exc))
    return go(request, "/wallet")


async def _accept_or_return(request: Request) -> Response | None:
    """Accept or return the transfer named in the path; a response only if it went wrong."""
    transfer_id, verb = request.path_params["transfer_id"], request.path_params["verb"]
    if verb not in ("accept", "return"):
        return Response(status_code=404)

    async def act(m: Messenger) -> Transfer:
        if verb == "accept":
            return await m.client.wallet.accept(transfer_id)
        return await m.client.wallet.return_transfer(transfer_id)

    try:
        await state(request).use(act)
    except ClientError as exc:
        return problem(request, explain(exc))
    return None


async def resolve(request: Request) -> Response:
    """Accept or return a transfer sent to you."""
    return await _accept_or_return(request) or go(request, "/wallet")


async def balances(request: Request) -> Response:
    """The balance table, re-fetched whenever the device learns something (``wallet.balance``
    among it), so the page follows the balance without a reload."""
    overview, error = await _overview(request)
    return render(request, "_balances.html", overview=overview, error=error)


async def balance_chip(request: Request) -> Response:
    """The chat header's balance, refreshed like the table."""
    overview, _ = await _overview(request)
    return render(request, "_balance_chip.html", overview=overview)


async def _overview(request: Request) -> tuple[Overview | None, str | None]:
    try:
        return await state(request).use(lambda m: m.client.wallet.overview()), None
    except ClientError as exc:
        return None, explain(exc)


# --- in chats ----------------------------------------------------------------------------


async def chat_transfer(request: Request) -> Response:
    """Send money to the other member of a direct chat; the card shows in the chat."""
    cid = request.path_params["cid"]
    form = await request.form()
    amount, currency, pin = (str(form.get(n, "")).strip() for n in ("amount", "currency", "pin"))
    if not (amount and currency and pin):
        return problem(request, "Fill in the amount, the currency and your PIN.")

    async def send(m: Messenger) -> Transfer:
        conversation = await get_conversation(m.client, cid)
        others = [u for u in conversation.joined if u != m.user_id]
        if conversation.kind != "direct" or not others:
            raise ValueError("Transfers go to the other person of a direct chat.")
        return await m.client.wallet.transfer(others[0], amount, currency.upper(), pin=pin)

    try:
        await state(request).use(send)
    except ValueError as exc:
        return problem(request, str(exc))
    except ClientError as exc:
        return problem(request, explain(exc))
    return await messages(request)


async def chat_red_packet(request: Request) -> Response:
    """Put a red packet in the chat: for the other person of a direct chat, or in a group
    random or equal shares for anyone (or one chosen member)."""
    cid = request.path_params["cid"]
    form = await request.form()
    amount, currency, pin, count_text, split, to = (
        str(form.get(n, "")).strip() for n in ("amount", "currency", "pin", "count", "split", "to")
    )
    if not (amount and currency and pin):
        return problem(request, "Fill in the amount, the currency and your PIN.")
    count = int(count_text) if count_text.isdigit() else 0 if count_text else 1
    if count < 1:
        return problem(request, "The number of shares is a whole number, 1 or more.")
    try:
        await state(request).use(
            lambda m: m.client.wallet.red_packet(
                cid, amount, currency.upper(), count,
                "fixed" if split == "fixed" else "random", to or None, pin=pin,
            )
        )  # fmt: skip
    except ClientError as exc:
        return problem(request, explain(exc))
    return await messages(request)


async def open_red_packet(request: Request) -> Response:
    """Open a red packet: its card then says what you got, or that you were too slow."""
    packet_id = request.path_params["packet_id"]
    key = card_key(RED_PACKET_CARD, packet_id)

    async def grab(m: Messenger) -> None:
        try:
            got = await m.client.wallet.grab(packet_id)
        except ApiError as exc:
            if exc.code not in GRAB_OUTCOMES:
                raise
            m.history.note_card(key, outcome=GRAB_OUTCOMES[exc.code])
            return
        m.history.note_card(key, outcome="got", amount=str(got.amount))

    try:
        await state(request).use(grab)
    except ClientError as exc:
        return problem(request, explain(exc))
    await state(request).changed()
    return await messages(request)


async def resolve_in_chat(request: Request) -> Response:
    """Accept or return a transfer from its card; the card follows the new state."""
    return await _accept_or_return(request) or await messages(request)


# --- card helpers for the templates --------------------------------------------------------


def money_text(wire: Any) -> str:
    """A wire Money object as "8.88 CNY" (from ``amount_minor``, the truth)."""
    try:
        return str(money(wire))
    except (KeyError, TypeError, ValueError):
        return "?"


def card_expired(content: Mapping[str, Any]) -> bool:
    """Whether a card's flow is past ``expires_at`` (grabs and expiry write no card event)."""
    try:
        return dt.datetime.now(dt.UTC) >= parse_time(content["expires_at"])
    except (KeyError, TypeError, ValueError):
        return False


def may_open(content: Mapping[str, Any], me: str) -> bool:
    """Whether ``me`` may open this red packet: its one recipient, or anyone in a group."""
    if content.get("audience") == "person":
        return content.get("to_user_id") == me
    return True


templates.env.globals.update(money_text=money_text, card_expired=card_expired, may_open=may_open)

routes = [
    Route("/wallet", wallet),
    Route("/wallet/balances", balances),
    Route("/wallet/chip", balance_chip),
    Route("/chats/{cid}/transfer", chat_transfer, methods=["POST"]),
    Route("/chats/{cid}/red-packet", chat_red_packet, methods=["POST"]),
    Route("/chats/{cid}/red-packets/{packet_id}/open", open_red_packet, methods=["POST"]),
    Route("/chats/{cid}/transfers/{transfer_id}/{verb}", resolve_in_chat, methods=["POST"]),
    Route("/wallet/pin", set_pin, methods=["POST"]),
    Route("/wallet/transfers", send, methods=["POST"]),
    Route("/wallet/transfers/{transfer_id}/{verb}", resolve, methods=["POST"]),
]
