"""A flow as operators see it: every entry it wrote, and its row's state and facts.

``FLOW_FACTS`` maps a ``flow_kind`` to the reader of its row; a kind without a reader (or a
flow whose row is gone) still shows its entries. Adding a flow kind to the console is one
reader and one line in that mapping.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.clock import Clock
from courtyard.core.money import Money
from courtyard.db import Database
from courtyard.domains.accounts import record_operator_action
from courtyard.domains.wallet.commerce_models import (
    Biller,
    BillPayment,
    Merchant,
    Payment,
    PaymentRefund,
)
from courtyard.domains.wallet.context import iso
from courtyard.domains.wallet.flow_models import (
    ProviderOperation,
    RedPacket,
    RedPacketShare,
    Transfer,
)
from courtyard.domains.wallet.ledger_browser import EntryPage, entry_pages
from courtyard.domains.wallet.models import LedgerEntry
from courtyard.domains.wallet.oversight_errors import FlowNotFound

Fact = tuple[str, str]
FlowRow = tuple[str, list[Fact]]  # the state, then labelled values
FactReader = Callable[[AsyncSession, str], Awaitable[FlowRow | None]]


@dataclass(frozen=True, slots=True)
class FlowPage:
    """``state`` and ``facts`` come from the flow's row (None and [] if it has none)."""

    flow_kind: str
    flow_id: str
    state: str | None
    facts: list[Fact]
    entries: list[EntryPage]


def _when(moment: dt.datetime | None) -> str:
    return iso(moment) or "—"


async def _transfer(session: AsyncSession, flow_id: str) -> FlowRow | None:
    row = await session.get(Transfer, flow_id)
    if row is None:
        return None
    return row.state, [
        ("Amount", str(Money(row.amount_minor, row.currency))),
        ("Sender", row.sender_user_id),
        ("Recipient", row.recipient_user_id),
        ("Conversation", row.conversation_id),
        ("Created", _when(row.created_at)),
        ("Expires", _when(row.expires_at)),
        ("Resolved", _when(row.resolved_at)),
    ]


async def _red_packet(session: AsyncSession, flow_id: str) -> FlowRow | None:
    row = await session.get(RedPacket, flow_id)
    if row is None:
        return None
    grabbed = await session.scalar(
        select(func.count()).where(
            RedPacketShare.packet_id == flow_id, RedPacketShare.grabbed_by.is_not(None)
        )
    )
    return row.state, [
        ("Total", str(Money(row.total_minor, row.currency))),
        ("Shares", f"{grabbed or 0} of {row.share_count} grabbed ({row.split})"),
        ("Refunded", str(Money(row.refunded_minor, row.currency))),
        ("Sender", row.sender_user_id),
        ("Audience", row.audience if row.to_user_id is None else f"person {row.to_user_id}"),
        ("Conversation", row.conversation_id),
        ("Created", _when(row.created_at)),
        ("Expires", _when(row.expires_at)),
        ("Closed", _when(row.closed_at)),
    ]


async def _operation(session: AsyncSession, flow_id: str) -> FlowRow | None:
    row = await session.get(ProviderOperation, flow_id)
    if row is None:
        return None
    return row.state, [
        ("Kind", f"{row.kind} through {row.provider}"),
        ("Amount", str(Money(row.amount_minor, row.currency))),
        ("Fee", str(Money(row.fee_minor, row.currency))),
        ("User", row.user_id),
        ("Provider reference", row.provider_ref or "—"),
        ("Failure", row.failure_code or "—"),
        ("Created", _when(row.created_at)),
        ("Updated", _when(row.updated_at)),
    ]


async def _payment(session: AsyncSession, flow_id: str) -> FlowRow | None:
    row = await session.get(Payment, flow_id)
    if row is None:
        return None
    merchant = await session.get(Merchant, row.merchant_id)
    refunds = await session.scalars(
        select(PaymentRefund)
        .where(PaymentRefund.payment_id == flow_id)
        .order_by(PaymentRefund.created_at, PaymentRefund.refund_id)
    )
    return row.state, [
        ("Amount", str(Money(row.amount_minor, row.currency))),
        ("Fee", str(Money(row.fee_minor, row.currency))),
        ("Refunded", str(Money(row.refunded_minor, row.currency))),
        ("Merchant", f"{merchant.name if merchant else '?'} ({row.merchant_id})"),
        ("Payer", row.payer_user_id),
        ("QR code", row.qr_id or "—"),
        ("Created", _when(row.created_at)),
        *(
            (f"Refund {refund.refund_id}",
             f"{Money(refund.amount_minor, row.currency)} at {_when(refund.created_at)} "
             f"by {refund.by_user_id}")
            for refund in refunds
        ),
    ]  # fmt: skip


async def _bill(session: AsyncSession, flow_id: str) -> FlowRow | None:
    # Bills are keyed (and will be sharded) by payer: the payer comes from the bill's entry.
    initiator = await session.scalar(
        select(LedgerEntry.initiator)
        .where(LedgerEntry.flow_kind == "bill", LedgerEntry.flow_id == flow_id)
        .limit(1)
    )
    if initiator is None or not initiator.startswith("user:"):
        return None
    row = await session.get(BillPayment, (initiator.removeprefix("user:"), flow_id))
    if row is None:
        return None
    biller = await session.get(Biller, row.biller_id)
    return row.state, [
        ("Amount", str(Money(row.amount_minor, row.currency))),
        ("Biller", f"{biller.name if biller else '?'} ({row.biller_id})"),
        ("Reference", row.reference),
        ("Payer", row.user_id),
        ("Created", _when(row.created_at)),
    ]


FLOW_FACTS: dict[str, FactReader] = {
    "transfer": _transfer,
    "red_packet": _red_packet,
    "operation": _operation,
    "payment": _payment,
    "bill": _bill,
}


class FlowBrowser:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def access_flow(self, operator_id: str, flow_kind: str, flow_id: str) -> FlowPage:
        """The entries of ``flow_kind``/``flow_id`` (oldest first) and its row's state;
        ``FlowNotFound`` if there are neither."""
        if len(flow_kind) > 32 or len(flow_id) > 64:
            raise FlowNotFound()
        async with self.db.transaction() as tx:
            entries = await tx.session.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.flow_kind == flow_kind, LedgerEntry.flow_id == flow_id)
                .order_by(LedgerEntry.created_at, LedgerEntry.entry_id)
            )
            pages = await entry_pages(tx.session, entries)
            reader = FLOW_FACTS.get(flow_kind)
            row = await reader(tx.session, flow_id) if reader is not None else None
            if not pages and row is None:
                raise FlowNotFound()
            await record_operator_action(
                tx, self.clock, operator_id, "wallet.flow.view", f"flow:{flow_kind}:{flow_id}"
            )
        state, facts = row if row is not None else (None, [])
        return FlowPage(flow_kind, flow_id, state, facts, pages)
