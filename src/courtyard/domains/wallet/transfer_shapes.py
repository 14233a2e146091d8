"""What a transfer is on the wire and on its way to a commit: its request, its wire form, and
a checked creation waiting in the queue (shared by ``transfers``, the queue and the batch)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from courtyard.core.ids import new_id
from courtyard.core.money import Money
from courtyard.domains.accounts import Identity
from courtyard.domains.wallet.accounts import AccountRef
from courtyard.domains.wallet.context import iso
from courtyard.domains.wallet.flow_models import Transfer
from courtyard.domains.wallet.idempotency import Answer, Request

CARD = "m.wallet.transfer"
REFUND_JOB = "transfer.refund"
# The columns transfer_wire reads.
_WIRE_COLUMNS = (
    "transfer_id", "state", "sender_user_id", "recipient_user_id", "conversation_id",
    "amount_minor", "currency", "created_at", "expires_at", "resolved_at",
    "memo_conversation_id", "memo_seq",
)  # fmt: skip


def transfer_wire(row: Transfer) -> dict[str, Any]:
    return wire_from_columns({name: getattr(row, name) for name in _WIRE_COLUMNS})


def wire_from_columns(row: Mapping[str, Any]) -> dict[str, Any]:
    """A transfer as clients see it, from its row's column values."""
    memo = (
        {"conversation_id": row["memo_conversation_id"], "seq": row["memo_seq"]}
        if row["memo_conversation_id"]
        else None
    )
    return {
        "transfer_id": row["transfer_id"],
        "state": row["state"],
        "from_user_id": row["sender_user_id"],
        "to_user_id": row["recipient_user_id"],
        "conversation_id": row["conversation_id"],
        "amount": Money(row["amount_minor"], row["currency"]).to_wire(),
        "created_at": iso(row["created_at"]),
        "expires_at": iso(row["expires_at"]),
        "resolved_at": iso(row["resolved_at"]),
        "memo": memo,
    }


@dataclass(frozen=True, slots=True)
class TransferRequest:
    to_user_id: str
    amount: Money
    pin: object = field(repr=False)
    transfer_id: str | None = None
    memo_conversation_id: str | None = None
    memo_seq: int | None = None


@dataclass(eq=False)
class PendingTransfer:
    """A transfer creation that passed every check made before its transaction (amount,
    limits, replay, parties, PIN, accounts) and waits for the commit that carries it."""

    request: Request
    identity: Identity
    req: TransferRequest = field(repr=False)
    transfer_id: str
    conversation_id: str
    sender: AccountRef
    escrow: AccountRef
    daily_limit_minor: int
    future: asyncio.Future[Answer] = field(repr=False)
    # Made here, on the event loop, in arrival order (so the ids sort as the transfers were
    # applied), and so the writer's thread never waits on the id generator's lock.
    entry_id: str = field(default_factory=new_id)
    card_event_id: str = field(default_factory=new_id)
    balance_event_id: str = field(default_factory=new_id)

    def columns(self, now: dt.datetime, expiry: dt.timedelta) -> dict[str, Any]:
        """The ``transfers`` row this creation writes when it is applied at ``now``."""
        return {
            "transfer_id": self.transfer_id,
            "sender_user_id": self.identity.user_id,
            "recipient_user_id": self.req.to_user_id,
            "conversation_id": self.conversation_id,
            "amount_minor": self.req.amount.amount_minor,
            "currency": self.req.amount.currency,
            "state": "pending",
            "created_at": now,
            "expires_at": now + expiry,
            "resolved_at": None,
            "send_entry_id": self.entry_id,
            "resolve_entry_id": None,
            "memo_conversation_id": self.req.memo_conversation_id,
            "memo_seq": self.req.memo_seq,
            "idempotency_key": self.request.key,
        }
