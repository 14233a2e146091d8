"""The states of top-ups and withdrawals, and the transactional step that moves one.

A transition is a compare-and-set on the operation's state (as read), then the entry it
writes, if any, then the ``wallet.operation`` event, all in the caller's transaction
(docs/wallet.md, "Top-up and withdrawal"). What the provider reports is judged by ``decide``:
a report that contradicts the row (another amount, currency or kind; ``succeeded`` after
``failed``) sends it to ``review`` and moves no money.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update

from courtyard.core.clock import Clock
from courtyard.core.money import Money
from courtyard.db import Tx
from courtyard.domains.wallet.accounts import AccountDirectory
from courtyard.domains.wallet.context import iso
from courtyard.domains.wallet.errors import OperationNotFound
from courtyard.domains.wallet.flow_models import ProviderOperation
from courtyard.domains.wallet.ledger import Book, EntryDraft, Ledger, Leg

OPERATION_EVENT = "wallet.operation"
FIRST_STATE = {"topup": "created", "withdrawal": "held"}
SUBMITTED_STATE = {"topup": "pending", "withdrawal": "submitted"}
PROVIDER_KIND = {"topup": "charge", "withdrawal": "payout"}
# (kind, reported status) -> the states that status may move the operation from.
SETTLES_FROM = {
    ("topup", "succeeded"): ("created", "pending", "expired"),
    ("topup", "failed"): ("created", "pending"),
    ("withdrawal", "succeeded"): ("held", "submitted"),
    ("withdrawal", "failed"): ("held", "submitted"),
}
# (kind, new state) -> the entry that transition writes.
ENTRIES = {
    ("topup", "succeeded"): "topup",
    ("withdrawal", "succeeded"): "withdrawal_settle",
    ("withdrawal", "failed"): "withdrawal_reverse",
}
MISMATCH_CODE = "provider_mismatch"


@dataclass(frozen=True, slots=True)
class Report:
    """What the provider says happened, from a callback, a status query or a refusal."""

    status: str
    amount_minor: int | None = None
    currency: str | None = None
    kind: str | None = None
    failure_code: str | None = None


def operation_wire(row: ProviderOperation) -> dict[str, Any]:
    return {
        **operation_event(row),
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def operation_event(row: ProviderOperation) -> dict[str, Any]:
    """The content of a ``wallet.operation`` stream event."""
    return {
        "operation_id": row.operation_id,
        "kind": row.kind,
        "state": row.state,
        "amount": Money(row.amount_minor, row.currency).to_wire(),
        "fee": Money(row.fee_minor, row.currency).to_wire(),
        "next_action": row.next_action,
        "failure_code": row.failure_code,
    }


def _agrees(row: ProviderOperation, report: Report) -> bool:
    return (
        report.amount_minor in (None, row.amount_minor)
        and report.currency in (None, row.currency)
        and report.kind in (None, PROVIDER_KIND[row.kind])
    )


def decide(row: ProviderOperation, report: Report) -> tuple[str, str | None]:
    """The outcome (``applied``, ``noop``, ``mismatch``) of ``report`` on ``row``, and the
    state it moves to (None: it stays)."""
    if not _agrees(row, report):
        return "mismatch", None if row.state == "review" else "review"
    if row.state == "review" or report.status not in ("succeeded", "failed"):
        return "noop", None
    if row.state in SETTLES_FROM[(row.kind, report.status)]:
        return "applied", report.status
    if row.state == report.status or (row.state == "expired" and report.status == "failed"):
        return "noop", None
    return "mismatch", "review"  # a final state contradicted, e.g. succeeded after failed


class OperationStates:
    def __init__(self, clock: Clock, ledger: Ledger, accounts: AccountDirectory) -> None:
        self.clock = clock
        self.ledger = ledger
        self.accounts = accounts

    async def settle(self, tx: Tx, operation_id: str, report: Report, initiator: str) -> str:
        """Apply ``report``: the compare-and-set, its entry and event; returns the outcome.
        A lost compare-and-set means another transition committed first: decide again."""
        for _ in range(4):
            row = await self.fresh(tx, operation_id)
            outcome, to_state = decide(row, report)
            if to_state is None:
                return outcome
            failure = {"failed": report.failure_code, "review": MISMATCH_CODE}.get(to_state)
            if await self.move(tx, row, to_state, initiator, failure_code=failure):
                return outcome
        raise RuntimeError(f"operation {operation_id} keeps changing under its transition")

    async def move(
        self, tx: Tx, row: ProviderOperation, to_state: str, initiator: str, **values: Any
    ) -> bool:
        """Compare-and-set ``row.state`` (as read) -> ``to_state`` with ``values``, then write
        the transition's entry and event; False (nothing written) if the state moved since."""
        changed = await tx.session.execute(
            update(ProviderOperation)
            .where(
                ProviderOperation.operation_id == row.operation_id,
                ProviderOperation.state == row.state,
            )
            .values(state=to_state, updated_at=self.clock.now(), **values)
            .returning(ProviderOperation.operation_id)
        )
        if changed.scalar_one_or_none() is None:
            return False
        entry = ENTRIES.get((row.kind, to_state))
        async with self.ledger.book(tx) as book:
            if entry is not None:
                posted = await book.post(await self._draft(row, entry, initiator))
                await tx.session.execute(
                    update(ProviderOperation)
                    .where(ProviderOperation.operation_id == row.operation_id)
                    .values(final_entry_id=posted.entry_id)
                )
            announce(book, await self.fresh(tx, row.operation_id))
        return True

    async def _draft(self, row: ProviderOperation, kind: str, initiator: str) -> EntryDraft:
        amount, currency = row.amount_minor, row.currency
        clearing = await self.accounts.existing_system("provider_clearing", currency, row.provider)
        if kind == "topup":
            user = await self.accounts.existing_user(row.user_id, currency)
            legs = (Leg(user, amount), Leg(clearing, -amount))
        else:
            escrow = await self.accounts.existing_system("withdrawal_escrow", currency)
            if kind == "withdrawal_settle":
                legs = (Leg(escrow, -amount), Leg(clearing, amount))
            else:
                user = await self.accounts.existing_user(row.user_id, currency)
                legs = (Leg(escrow, -amount), Leg(user, amount))
        category = "topup" if kind == "topup" else "withdrawal"
        return EntryDraft(kind, category, legs, initiator, "operation", row.operation_id)

    @staticmethod
    async def fresh(tx: Tx, operation_id: str) -> ProviderOperation:
        """The operation as the database holds it now, in ``tx``."""
        row = await tx.session.get(ProviderOperation, operation_id, populate_existing=True)
        if row is None:
            raise OperationNotFound()
        return row


def announce(book: Book, row: ProviderOperation) -> None:
    book.emit(row.user_id, OPERATION_EVENT, operation_event(row))
