"""The wallet in the SDK: balances, PIN, top-ups, transfers, red packets and statements
(docs/wallet.md).

Money-moving calls carry an idempotency key and are retried with the same key and body while
the answer is unknown (no answer, or a 5xx), so a payment is made at most once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload
from urllib.parse import quote

from courtyard.client.errors import ApiError, ClientError, ProtocolError, Unreachable
from courtyard.client.wallet_bills import WalletBills
from courtyard.client.wallet_models import (
    Balance,
    Grab,
    MemoRef,
    Operation,
    Overview,
    PacketShare,
    RedPacket,
    Statement,
    StatementLine,
    Transfer,
)
from courtyard.client.wallet_payments import WalletPayments
from courtyard.client.wallet_withdrawals import WalletWithdrawals
from courtyard.core.ids import new_id
from courtyard.core.money import Money

if TYPE_CHECKING:
    from courtyard.client.client import Client

__all__ = [
    "Balance",
    "Grab",
    "MemoRef",
    "Operation",
    "Overview",
    "PacketShare",
    "PinSource",
    "RedPacket",
    "Statement",
    "StatementLine",
    "Transfer",
    "Wallet",
    "WalletUnsure",
]

PinSource = str | Callable[[], Awaitable[str]]
Amount = str | Money
Split = Literal["random", "fixed"]
T = TypeVar("T")
_USER_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
FIRST_RETRY_DELAY = 0.2


class WalletUnsure(ClientError):
    """A money call got no definite answer in time: it may or may not have happened.

    Repeat it later with the same ``idempotency_key`` (and the same arguments) to learn
    which; the server answers the first result and never moves the money twice.
    """

    def __init__(self, idempotency_key: str | None, what: str, last_error: ClientError) -> None:
        key = f" with idempotency key {idempotency_key}" if idempotency_key else ""
        super().__init__(f"{what}: no definite answer ({last_error}); retry{key}")
        self.idempotency_key = idempotency_key
        self.last_error = last_error


class Wallet(WalletBills, WalletPayments, WalletWithdrawals):
    """The signed-in user's wallet, reached as ``client.wallet``.

    Args:
        client: The SDK client whose session this wallet acts for.
        pin: The payment PIN, or an async callable asked for it when a debit needs it;
            it is never stored anywhere but here.
        retry_for: Seconds to keep retrying a money call whose outcome is unknown.
    """

    def __init__(self, client: Client, pin: PinSource | None = None, *, retry_for: float = 60.0):
        self.client = client
        self.pin = pin
        self.retry_for = retry_for

    # --- reads --------------------------------------------------------------------------

    async def overview(self) -> Overview:
        """Balances and limits in every enabled currency, and whether a PIN is set."""
        return _parse(Overview.from_wire, await self.client._call("GET", "/v1/wallet"))

    @overload
    async def balance(self, currency: None = None) -> list[Balance]: ...
    @overload
    async def balance(self, currency: str) -> Money: ...
    async def balance(self, currency: str | None = None) -> list[Balance] | Money:
        """Every currency's balance, or the balance in ``currency`` (zero if never used)."""
        balances = list((await self.overview()).balances)
        if currency is None:
            return balances
        for balance in balances:
            if balance.currency == currency:
                return balance.balance
        raise ValueError(f"{currency} is not enabled on this server")

    async def currencies(self) -> dict[str, int]:
        """The enabled currency codes and their minor-unit exponents."""
        data = await self.client._call("GET", "/v1/wallet/currencies")
        return _parse(lambda d: {str(c["code"]): int(c["exponent"]) for c in d}, data)

    async def transfers(
        self,
        role: Literal["sent", "received"] | None = None,
        state: str | None = None,
        *,
        limit: int | None = None,
    ) -> list[Transfer]:
        """Transfers you sent or received (both without ``role``), newest first."""
        params = _present(role=role, state=state, limit=limit)
        data = await self.client._call("GET", "/v1/wallet/transfers", params=params)
        return _parse(lambda d: [Transfer.from_wire(t) for t in d["transfers"]], data)

    async def get_transfer(self, transfer_id: str) -> Transfer:
        data = await self.client._call("GET", f"/v1/wallet/transfers/{_segment(transfer_id)}")
        return _parse(Transfer.from_wire, data)

    async def get_red_packet(self, packet_id: str) -> RedPacket:
        """A red packet in one of your conversations: who opened it and how many are left."""
        data = await self.client._call("GET", f"/v1/wallet/red-packets/{_segment(packet_id)}")
        return _parse(RedPacket.from_wire, data)

    async def operation(self, operation_id: str) -> Operation:
        """A top-up or withdrawal in its current state."""
        data = await self.client._call("GET", f"/v1/wallet/operations/{_segment(operation_id)}")
        return _parse(Operation.from_wire, data)

    @overload
    async def statement(
        self,
        currency: str,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        format: Literal["json"] = "json",
        *,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Statement: ...
    @overload
    async def statement(
        self,
        currency: str,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        *,
        format: Literal["csv"],
        cursor: str | None = None,
        limit: int | None = None,
    ) -> str: ...
    async def statement(
        self,
        currency: str,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        format: Literal["json", "csv"] = "json",
        *,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Statement | str:
        """Your postings in ``currency`` from ``start`` up to (not including) ``end``; the
        server's default is the last 30 days. ``format="csv"`` gives the whole range as CSV."""
        params = _present(
            currency=currency,
            **{"from": _iso(start), "to": _iso(end)},
            cursor=cursor,
            limit=limit,
            format=format,
        )
        if format == "csv":
            response = await self.client._send("GET", "/v1/wallet/statement", params=params)
            return response.text
        data = await self.client._call("GET", "/v1/wallet/statement", params=params)
        return _parse(Statement.from_wire, data)

    # --- PIN ----------------------------------------------------------------------------

    async def set_pin(
        self, pin: str, *, password: str | None = None, current_pin: str | None = None
    ) -> None:
        """Set the payment PIN (6 digits) with the account password, or change it with the
        current PIN. Setting it with the password also lifts a lock."""
        if (password is None) == (current_pin is None):
            raise ValueError("give exactly one of password and current_pin")
        body = {"pin": pin, **_present(password=password, current_pin=current_pin)}
        await self.client._call("PUT", "/v1/wallet/pin", json=body)

    # --- money --------------------------------------------------------------------------

    async def topup(
        self,
        amount: Amount,
        currency: str,
        *,
        sandbox: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Operation:
        """Start adding money from the payment provider; follow it with ``operation(id)``.

        ``sandbox`` tells the sandbox provider how to play the operation out (its
        ``outcome``, ``delay_ms`` and so on); other providers refuse it.
        """
        body: dict[str, Any] = {"amount": _amount(amount, currency), "currency": currency}
        if sandbox is not None:
            body["sandbox"] = dict(sandbox)
        key = idempotency_key or new_id()
        data = await self._money("POST", "/v1/wallet/topups", body, key, "top-up")
        return _parse(Operation.from_wire, data)

    async def transfer(
        self,
        to: str,
        amount: Amount,
        currency: str,
        *,
        memo_ref: MemoRef | None = None,
        idempotency_key: str | None = None,
        transfer_id: str | None = None,
        pin: PinSource | None = None,
    ) -> Transfer:
        """Send money to ``to`` (a username or user id) as a card in your direct conversation,
        which is started first if there is none.

        A repeat with the same ``idempotency_key`` and arguments answers the first transfer
        (``replayed=True``). Raises ``WalletUnsure`` when no definite answer came in
        ``retry_for`` seconds, and ``ApiError`` for a refusal (``wrong_pin``,
        ``insufficient_funds``, ``no_direct_conversation``...).
        """
        text, secret = _amount(amount, currency), await self._pin(pin)
        to_user_id = await self._user_id(to)
        await self._ensure_direct(to_user_id)
        body: dict[str, Any] = {
            "to_user_id": to_user_id,
            "amount": text,
            "currency": currency,
            "pin": secret,
        }
        # Only a chosen id is sent: a later retry with the same key must send the same body.
        if transfer_id is not None:
            body["transfer_id"] = transfer_id
        if memo_ref is not None:
            body["memo"] = memo_ref.to_wire()
        key = idempotency_key or new_id()
        data = await self._money("POST", "/v1/wallet/transfers", body, key, "transfer")
        return _parse(Transfer.from_wire, data)

    async def accept(self, transfer_id: str) -> Transfer:
        """Accept a transfer sent to you; accepting twice answers the accepted transfer."""
        return await self._resolve(transfer_id, "accept")

    async def return_transfer(self, transfer_id: str) -> Transfer:
        """Send a pending transfer back to its sender (``return`` is a Python keyword)."""
        return await self._resolve(transfer_id, "return")

    async def red_packet(
        self,
        conversation_id: str,
        amount: Amount,
        currency: str,
        count: int = 1,
        split: Split = "random",
        to: str | None = None,
        *,
        idempotency_key: str | None = None,
        pin: PinSource | None = None,
    ) -> RedPacket:
        """Put a red packet of ``count`` shares in a conversation.

        ``split="random"``: ``amount`` is the total, shared out at random; ``"fixed"``: every
        share is ``amount``. With ``to`` (a username or user id; in a direct conversation, the
        other member unless given) it is one share for that member alone, else any member of
        the group may open one. Keys and retries as for ``transfer``.
        """
        if split not in ("random", "fixed"):
            raise ValueError(f'split must be "random" or "fixed", not {split!r}')
        if type(count) is not int:
            raise TypeError(f"count must be an int, not {type(count).__name__}")
        text = _amount(amount, currency)
        to_user_id = await self._user_id(to) if to else await self._direct_peer(conversation_id)
        body: dict[str, Any] = {
            "conversation_id": conversation_id,
            "audience": "group" if to_user_id is None else "person",
            "split": split,
            "count": count,
            "amount": text,
            "currency": currency,
            "pin": await self._pin(pin),
        }
        if to_user_id is not None:
            body["to_user_id"] = to_user_id
        key = idempotency_key or new_id()
        data = await self._money("POST", "/v1/wallet/red-packets", body, key, "red packet")
        return _parse(RedPacket.from_wire, data)

    async def grab(self, packet_id: str) -> Grab:
        """Open a red packet and take a share; opening it again answers the same share
        (``replayed=True``). Refusals: ``red_packet_empty`` (too slow),
        ``red_packet_expired``, ``not_eligible``."""
        # Like accept: one share per person is the natural key, so no idempotency key.
        path = f"/v1/wallet/red-packets/{_segment(packet_id)}/grab"
        data = await self._money("POST", path, None, None, f"grab of red packet {packet_id}")
        return _parse(Grab.from_wire, data)

    # --- internals ----------------------------------------------------------------------

    async def _user_id(self, who: str) -> str:
        """A user id for ``who``: an id as it is, a username through the server's lookup."""
        if _USER_ID.fullmatch(who):
            return who
        return (await self.client.lookup_user(who)).user_id

    async def _ensure_direct(self, user_id: str) -> None:
        """Start the direct conversation a transfer's card goes to (the existing one is kept)."""
        # Imported here: the conversations module needs the Client class, which needs this one.
        from courtyard.client.conversations import create_conversation

        try:
            await create_conversation(self.client, "direct", [user_id])
        except ApiError as exc:
            if exc.status >= 500:
                raise
            # Yourself or nobody: the transfer itself answers with the wallet's own code
            # (self_transfer, recipient_not_found), which says more than the chat's refusal.

    async def _direct_peer(self, conversation_id: str) -> str | None:
        """The other member of a direct conversation; None for a group."""
        from courtyard.client.conversations import get_conversation

        conversation = await get_conversation(self.client, conversation_id)
        if conversation.kind != "direct":
            return None
        me = (await self.client.whoami()).user_id
        return next((m.user_id for m in conversation.members if m.user_id != me), None)

    async def _resolve(self, transfer_id: str, verb: str) -> Transfer:
        # Accept and return are idempotent on the server, so they are retried without a key.
        path = f"/v1/wallet/transfers/{_segment(transfer_id)}/{verb}"
        data = await self._money("POST", path, None, None, f"{verb} of transfer {transfer_id}")
        return _parse(Transfer.from_wire, data)

    async def _money(
        self, method: str, path: str, body: dict[str, Any] | None, key: str | None, what: str
    ) -> Any:
        """Send one money call until a definite answer, the same key and body every time."""
        headers = {"Idempotency-Key": key} if key else None
        deadline = time.monotonic() + self.retry_for
        delay = FIRST_RETRY_DELAY
        while True:
            try:
                return await self.client._call(method, path, json=body, headers=headers)
            except (Unreachable, ApiError) as exc:
                if isinstance(exc, ApiError) and exc.status < 500:
                    raise
                if time.monotonic() + delay > deadline:
                    raise WalletUnsure(key, what, exc) from exc
            await asyncio.sleep(delay)
            delay *= 2

    async def _pin(self, pin: PinSource | None) -> str:
        source = pin if pin is not None else self.pin
        if source is None:
            raise ValueError("this call needs the payment PIN: set wallet.pin or pass pin=")
        if isinstance(source, str):
            return source
        return await source()


def _amount(amount: object, currency: str) -> str:
    """The wire amount: a decimal string as given (the server judges it), or a Money's."""
    if isinstance(amount, Money):
        if amount.currency != currency:
            raise ValueError(f"the amount is in {amount.currency}, not {currency}")
        return amount.format()
    if isinstance(amount, str):
        return amount
    if isinstance(amount, int | float | Decimal):
        # Is 10 ten yuan or ten fen? A string or a Money says; a number does not.
        kind = type(amount).__name__
        raise TypeError(f'amount must be a decimal string like "10.50" or a Money, not {kind}')
    raise TypeError(f"amount must be a str or Money, not {type(amount).__name__}")


def _present(**values: str | int | None) -> dict[str, str | int]:
    return {name: value for name, value in values.items() if value is not None}


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _segment(value: str) -> str:
    return quote(value, safe="")


def _parse(parse: Callable[[Any], T], data: Any) -> T:
    try:
        return parse(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"malformed wallet response: {exc!r}") from None
