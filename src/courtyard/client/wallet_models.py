"""What the wallet API returns, as small immutable values with ``Money`` amounts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from courtyard.client.models import parse_time
from courtyard.core.money import Money


def money(data: Any) -> Money:
    """A wire Money object; ``amount_minor`` is the truth, ``amount`` only its display."""
    amount_minor = data["amount_minor"]
    if type(amount_minor) is not int:
        raise TypeError("amount_minor is not an integer")
    return Money(amount_minor, str(data["currency"]))


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _time_or_none(value: Any) -> dt.datetime | None:
    return None if value is None else parse_time(value)


@dataclass(frozen=True)
class MemoRef:
    """Where a flow's end-to-end encrypted memo is: a message in the flow's conversation."""

    conversation_id: str
    seq: int

    def to_wire(self) -> dict[str, Any]:
        return {"conversation_id": self.conversation_id, "seq": self.seq}

    @classmethod
    def from_wire(cls, data: Any) -> MemoRef | None:
        if data is None:
            return None
        return cls(str(data["conversation_id"]), int(data["seq"]))


@dataclass(frozen=True)
class Balance:
    """One currency of the wallet: the balance and today's debit limits."""

    currency: str
    balance: Money
    status: str
    account_id: str | None
    single_limit: Money | None = None
    daily_limit: Money | None = None
    used_today: Money | None = None
    resets_at: dt.datetime | None = None


@dataclass(frozen=True)
class Overview:
    """``GET /v1/wallet``: every enabled currency's balance, and the payment PIN's state."""

    balances: tuple[Balance, ...]
    pin_set: bool
    pin_locked_until: dt.datetime | None

    @classmethod
    def from_wire(cls, data: Any) -> Overview:
        limits = {str(item["currency"]): item for item in data["limits"]}
        balances = []
        for account in data["accounts"]:
            currency = str(account["currency"])
            limit = limits.get(currency)
            balances.append(
                Balance(
                    currency=currency,
                    balance=money(account["balance"]),
                    status=str(account["status"]),
                    account_id=None
                    if account["account_id"] is None
                    else str(account["account_id"]),
                    single_limit=money(limit["single"]) if limit else None,
                    daily_limit=money(limit["daily"]) if limit else None,
                    used_today=money(limit["used_today"]) if limit else None,
                    resets_at=_time_or_none(limit["resets_at"]) if limit else None,
                )
            )
        pin = data["pin"]
        return cls(tuple(balances), bool(pin["set"]), _time_or_none(pin["locked_until"]))


@dataclass(frozen=True)
class Transfer:
    """A P2P transfer; ``replayed`` says the answer repeats an earlier request's."""

    transfer_id: str
    state: str
    from_user_id: str
    to_user_id: str
    conversation_id: str
    amount: Money
    created_at: dt.datetime
    expires_at: dt.datetime
    resolved_at: dt.datetime | None
    memo: MemoRef | None
    replayed: bool = False

    @classmethod
    def from_wire(cls, data: Any) -> Transfer:
        return cls(
            transfer_id=str(data["transfer_id"]),
            state=str(data["state"]),
            from_user_id=str(data["from_user_id"]),
            to_user_id=str(data["to_user_id"]),
            conversation_id=str(data["conversation_id"]),
            amount=money(data["amount"]),
            created_at=parse_time(data["created_at"]),
            expires_at=parse_time(data["expires_at"]),
            resolved_at=_time_or_none(data.get("resolved_at")),
            memo=MemoRef.from_wire(data.get("memo")),
            replayed=bool(data.get("replayed", False)),
        )


@dataclass(frozen=True)
class Operation:
    """A top-up or withdrawal through the payment provider, in its current state."""

    operation_id: str
    kind: str
    state: str
    amount: Money
    fee: Money | None
    next_action: Mapping[str, Any] | None
    failure_code: str | None
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
    replayed: bool = False

    @classmethod
    def from_wire(cls, data: Any) -> Operation:
        action = data.get("next_action")
        failure = data.get("failure_code")
        return cls(
            operation_id=str(data["operation_id"]),
            kind=str(data["kind"]),
            state=str(data["state"]),
            amount=money(data["amount"]),
            fee=money(data["fee"]) if data.get("fee") is not None else None,
            next_action=MappingProxyType(dict(action)) if action is not None else None,
            failure_code=None if failure is None else str(failure),
            created_at=_time_or_none(data.get("created_at")),
            updated_at=_time_or_none(data.get("updated_at")),
            replayed=bool(data.get("replayed", False)),
        )


@dataclass(frozen=True)
class StatementLine:
    """One posting on your account: signed ``amount`` and the balance after it."""

    posted_at: dt.datetime
    entry_id: str
    kind: str
    category: str | None
    amount: Money
    balance_after: Money
    counterparty_kind: str
    counterparty_id: str | None
    counterparty_name: str | None
    flow_kind: str | None
    flow_id: str | None

    @classmethod
    def from_wire(cls, data: Any) -> StatementLine:
        party, flow = data["counterparty"], data.get("flow") or {}
        category = data.get("category")
        return cls(
            posted_at=parse_time(data["posted_at"]),
            entry_id=str(data["entry_id"]),
            kind=str(data["kind"]),
            category=None if category is None else str(category),
            amount=money(data["amount"]),
            balance_after=money(data["balance_after"]),
            counterparty_kind=str(party["kind"]),
            counterparty_id=None if party.get("id") is None else str(party["id"]),
            counterparty_name=None if party.get("name") is None else str(party["name"]),
            flow_kind=None if flow.get("kind") is None else str(flow["kind"]),
            flow_id=None if flow.get("id") is None else str(flow["id"]),
        )


@dataclass(frozen=True)
class Statement:
    """A page of statement lines, newest first; pass ``next_cursor`` for the next page."""

    currency: str
    lines: tuple[StatementLine, ...]
    next_cursor: str | None

    @classmethod
    def from_wire(cls, data: Any) -> Statement:
        cursor = data.get("next_cursor")
        return cls(
            currency=str(data["currency"]),
            lines=tuple(StatementLine.from_wire(line) for line in data["lines"]),
            next_cursor=None if cursor is None else str(cursor),
        )


@dataclass(frozen=True)
class PacketShare:
    """One opened share of a red packet: who took it, how much, and when."""

    user_id: str
    amount: Money
    grabbed_at: dt.datetime | None


@dataclass(frozen=True)
class RedPacket:
    """A red packet in a chat. ``total`` shows only to its sender and to those who grabbed;
    ``refunded`` once it closed (what nobody took came back)."""

    packet_id: str
    conversation_id: str
    sender_user_id: str
    audience: str
    to_user_id: str | None
    split: str
    share_count: int
    currency: str
    state: str
    created_at: dt.datetime
    expires_at: dt.datetime
    memo: MemoRef | None
    grabs: tuple[PacketShare, ...]
    remaining_count: int
    total: Money | None
    refunded: Money | None
    replayed: bool = False

    @classmethod
    def from_wire(cls, data: Any) -> RedPacket:
        total, refunded = data.get("total"), data.get("refunded")
        return cls(
            packet_id=str(data["packet_id"]),
            conversation_id=str(data["conversation_id"]),
            sender_user_id=str(data["sender_user_id"]),
            audience=str(data["audience"]),
            to_user_id=_str_or_none(data.get("to_user_id")),
            split=str(data["split"]),
            share_count=int(data["share_count"]),
            currency=str(data["currency"]),
            state=str(data["state"]),
            created_at=parse_time(data["created_at"]),
            expires_at=parse_time(data["expires_at"]),
            memo=MemoRef.from_wire(data.get("memo")),
            grabs=tuple(
                PacketShare(
                    str(g["user_id"]), money(g["amount"]), _time_or_none(g.get("grabbed_at"))
                )
                for g in data.get("grabs") or ()
            ),
            remaining_count=int(data["remaining_count"]),
            total=None if total is None else money(total),
            refunded=None if refunded is None else money(refunded),
            replayed=bool(data.get("replayed", False)),
        )


@dataclass(frozen=True)
class Grab:
    """Your share of a red packet; ``replayed`` when you had opened it before."""

    packet_id: str
    amount: Money
    share_no: int
    grabbed_at: dt.datetime | None
    replayed: bool = False

    @classmethod
    def from_wire(cls, data: Any) -> Grab:
        return cls(
            packet_id=str(data["packet_id"]),
            amount=money(data["amount"]),
            share_no=int(data["share_no"]),
            grabbed_at=_time_or_none(data.get("grabbed_at")),
            replayed=bool(data.get("replayed", False)),
        )
