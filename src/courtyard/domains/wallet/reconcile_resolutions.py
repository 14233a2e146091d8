"""A finance (or admin) operator resolves a reconciliation exception, once, with a note
(docs/wallet.md, "Reconciliation").

- ``applied_provider_status``: ask the provider now; if it reports a final status that
  agrees in kind, amount and currency, move the operation there as its callback would
  (out of ``review`` too: the operator's decision is what ``review`` waited for).
- ``adjusted``: book, against the ``suspense`` account, the difference between what the
  provider did and what our provider clearing account holds: for an operation, its effect at
  the provider minus the clearing postings of its entries (earlier adjustments included, so a
  second adjustment finds nothing to do); for a ``balance`` item, minus the provider's balance
  now minus the clearing balance. Only for operations that will not move again by themselves.
- ``dismissed``: the decision and its note, nothing else.

The item's resolution, its effect and the ``operator_actions`` row commit in one transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, select, update

from courtyard.core.clock import Clock
from courtyard.db import Database, Tx
from courtyard.domains.accounts import OperatorsService, record_operator_action
from courtyard.domains.wallet.accounts import AccountDirectory
from courtyard.domains.wallet.errors import (
    InvalidResolution,
    ItemAlreadyResolved,
    NoteRequired,
    OperatorNotAllowed,
    ProviderUnavailable,
    ReconciliationItemNotFound,
    ResolutionNotApplicable,
)
from courtyard.domains.wallet.flow_models import ProviderOperation
from courtyard.domains.wallet.ledger import EntryDraft, Ledger, Leg
from courtyard.domains.wallet.models import LedgerAccount, LedgerEntry, LedgerPosting
from courtyard.domains.wallet.operation_states import PROVIDER_KIND
from courtyard.domains.wallet.operations import Operations
from courtyard.domains.wallet.oversight_models import ReconciliationItem, ReconciliationRun
from courtyard.domains.wallet.providers import PaymentProvider, ProviderStatus
from courtyard.domains.wallet.reconcile import ReconciliationItemView, item_view

RESOLUTIONS = frozenset({"applied_provider_status", "adjusted", "dismissed"})
RESOLVER_ROLES = frozenset({"finance", "admin"})
MAX_NOTE = 500
# An operation in these states moves no more by itself, so adjusting its clearing cannot be
# doubled by a later transition (``review`` moves only by an operator's resolution).
SETTLED_HERE = ("succeeded", "failed", "expired", "review")
OPEN_HERE = ("created", "pending", "held", "submitted", "expired")


class Resolutions:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        ledger: Ledger,
        accounts: AccountDirectory,
        operations: Operations,
        operators: OperatorsService,
    ) -> None:
        self.db = db
        self.clock = clock
        self.ledger = ledger
        self.accounts = accounts
        self.operations = operations
        self.operators = operators

    async def resolve_item(
        self, operator_id: str, run_id: str, item_no: int, resolution: str, note: str
    ) -> ReconciliationItemView:
        """Resolve one exception, once; its effect, its record and the operator's action
        commit together. Raises ``item_already_resolved`` (409) for a second resolution."""
        if resolution not in RESOLUTIONS:
            raise InvalidResolution()
        note = (note or "").strip()
        if not 0 < len(note) <= MAX_NOTE:
            raise NoteRequired()
        await self._check_operator(operator_id)
        item, provider_name = await self._open_item(run_id, item_no)
        provider = self._provider(provider_name)
        status: ProviderStatus | None = None
        there: dict[str, int] = {}
        if resolution == "applied_provider_status":
            status = await self._final_status(provider, item)
        elif resolution == "adjusted":
            there = await self._provider_side(provider, item)
        async with self.db.transaction() as tx:
            await self._claim(tx, item, operator_id, resolution, note)
            initiator = f"operator:{operator_id}"
            if status is not None:
                await self._apply(tx, item, status, initiator)
            elif resolution == "adjusted":
                await self._adjust(tx, item, provider_name, there, initiator)
            target = f"reconciliation_item:{run_id}/{item_no}"
            action = f"wallet.reconciliation.{resolution}"
            await record_operator_action(tx, self.clock, operator_id, action, target, note)
        resolved, _ = await self._item(run_id, item_no)
        return item_view(resolved)

    async def _check_operator(self, operator_id: str) -> None:
        # Operators are few; the accounts domain lists them, with their roles.
        operators = await self.operators.get_operators()
        operator = next((o for o in operators if o.operator_id == operator_id), None)
        if operator is None or not RESOLVER_ROLES & set(operator.roles):
            raise OperatorNotAllowed()

    async def _item(self, run_id: str, item_no: int) -> tuple[ReconciliationItem, str]:
        async with self.db.read() as session:
            item = await session.get(ReconciliationItem, (run_id, item_no))
            run = await session.get(ReconciliationRun, run_id)
        if item is None or run is None:
            raise ReconciliationItemNotFound()
        return item, run.provider

    async def _open_item(self, run_id: str, item_no: int) -> tuple[ReconciliationItem, str]:
        item, provider = await self._item(run_id, item_no)
        if item.resolved_at is not None:
            raise ItemAlreadyResolved(resolution=item.resolution)
        return item, provider

    def _provider(self, name: str) -> PaymentProvider:
        provider = self.operations.provider
        if provider is None or provider.name != name:
            raise ProviderUnavailable(f"The provider {name!r} is not configured here")
        return provider

    async def _operation(self, item: ReconciliationItem) -> ProviderOperation | None:
        if item.operation_id is None:
            return None
        async with self.db.read() as session:
            return await session.get(ProviderOperation, item.operation_id)

    async def _final_status(
        self, provider: PaymentProvider, item: ReconciliationItem
    ) -> ProviderStatus:
        """What the provider reports now of the item's operation, if it can be applied."""
        row = await self._operation(item)
        if row is None:
            raise ResolutionNotApplicable("There is no operation of ours to apply it to")
        status = await provider.status(row.operation_id)
        if status.status not in ("succeeded", "failed", "cancelled"):
            raise ResolutionNotApplicable(f"The provider reports it {status.status}")
        if (status.amount_minor, status.currency, status.kind) != (
            row.amount_minor, row.currency, PROVIDER_KIND[row.kind]
        ):  # fmt: skip
            raise ResolutionNotApplicable(
                "The provider reports another kind, amount or currency: adjust or dismiss"
            )
        return status

    async def _provider_side(
        self, provider: PaymentProvider, item: ReconciliationItem
    ) -> dict[str, int]:
        """What our clearing account should hold by the provider's books: minus its balance
        now (a ``balance`` item), or the effect of the item's operation there."""
        if item.kind == "balance":
            currency = str(item.detail["currency"])
            report = await provider.report(self.clock.now().date())
            there = {currency: -report.balances.get(currency, 0)}
        else:
            if item.operation_id is None:
                raise ResolutionNotApplicable("This item names no operation")
            status = await provider.status(item.operation_id)
            there = _effect_there(status)
        row = await self._operation(item)
        for currency in there.keys() | ({row.currency} if row else set()):
            await self.accounts.ensure_system("provider_clearing", currency, provider.name)
            await self.accounts.ensure_system("suspense", currency)
        return there

    async def _claim(
        self, tx: Tx, item: ReconciliationItem, operator_id: str, resolution: str, note: str
    ) -> None:
        claimed = await tx.session.execute(
            update(ReconciliationItem)
            .where(
                ReconciliationItem.run_id == item.run_id,
                ReconciliationItem.item_no == item.item_no,
                ReconciliationItem.resolved_at.is_(None),
            )
            .values(
                resolved_by=operator_id,
                resolved_at=self.clock.now(),
                resolution=resolution,
                note=note,
            )
            .returning(ReconciliationItem.item_no)
        )
        if claimed.scalar_one_or_none() is None:  # another operator's resolution won
            raise ItemAlreadyResolved()

    async def _apply(
        self, tx: Tx, item: ReconciliationItem, status: ProviderStatus, initiator: str
    ) -> None:
        assert item.operation_id is not None
        row = await _lock_operation(tx, item.operation_id)
        if row is None:
            raise ResolutionNotApplicable("There is no operation of ours to apply it to")
        if await _adjusted_before(tx, row.operation_id):
            raise ResolutionNotApplicable("An adjustment was booked for it: adjust or dismiss")
        target = "succeeded" if status.status == "succeeded" else "failed"
        if row.state == "review":
            failure = (status.failure_code or status.status) if target == "failed" else None
            moved = await self.operations.states.move(
                tx, row, target, initiator, failure_code=failure
            )
            if not moved:
                raise ResolutionNotApplicable("The operation moved meanwhile; look again")
        elif row.state in OPEN_HERE:
            outcome = await self.operations.apply_status(tx, row.operation_id, status, initiator)
            if outcome == "mismatch":
                raise ResolutionNotApplicable("The provider's status contradicts ours")
        elif row.state != target:
            raise ResolutionNotApplicable(
                f"It is {row.state} here and {status.status} at the provider: adjust or dismiss"
            )

    async def _adjust(
        self,
        tx: Tx,
        item: ReconciliationItem,
        provider: str,
        there: dict[str, int],
        initiator: str,
    ) -> None:
        if item.kind == "balance":
            flow = ("reconciliation", f"{item.run_id}/{item.item_no}")
            await _lock_clearing(tx, provider, there.keys())
            here = {c: await _clearing_total(tx, provider, c) for c in there}
        else:
            assert item.operation_id is not None
            flow = ("operation", item.operation_id)
            row = await _lock_operation(tx, item.operation_id)
            if row is not None and row.state not in SETTLED_HERE:
                raise ResolutionNotApplicable(
                    f"The operation is still {row.state}: apply the provider's status or wait"
                )
            await _lock_clearing(tx, provider, there.keys() | ({row.currency} if row else set()))
            here = await _clearing_booked_for(tx, provider, item.operation_id)
        amounts = {c: there.get(c, 0) - here.get(c, 0) for c in sorted(there.keys() | here.keys())}
        if not any(amounts.values()):
            raise ResolutionNotApplicable("Nothing to adjust: our clearing agrees with it")
        async with self.ledger.book(tx) as book:
            for currency, amount in amounts.items():
                if amount == 0:
                    continue
                clearing = await self.accounts.existing_system(
                    "provider_clearing", currency, provider
                )
                suspense = await self.accounts.existing_system("suspense", currency)
                legs = (Leg(clearing, amount), Leg(suspense, -amount))
                await book.post(EntryDraft("adjustment", "adjustment", legs, initiator, *flow))


def _effect_there(status: ProviderStatus) -> dict[str, int]:
    """An operation's effect on our clearing account, by the provider's word: a succeeded
    charge makes it more negative, a succeeded payout less."""
    if status.status != "succeeded" or status.amount_minor is None or status.currency is None:
        return {}
    signs = {"charge": -1, "payout": 1}
    if status.kind not in signs:
        raise ResolutionNotApplicable(f"The provider reports an unknown kind {status.kind!r}")
    return {status.currency: signs[status.kind] * status.amount_minor}


async def _lock_operation(tx: Tx, operation_id: str) -> ProviderOperation | None:
    """Lock the operation's row (level 3 of the lock order), so that two resolutions of
    one operation, or one and a callback, take turns."""
    row: ProviderOperation | None = await tx.session.scalar(
        select(ProviderOperation)
        .where(ProviderOperation.operation_id == operation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return row


async def _lock_clearing(tx: Tx, provider: str, currencies: Any) -> None:
    """Serialise adjustments of one clearing account. ``FOR NO KEY UPDATE`` does not
    conflict with the key-share locks postings take, so flows never wait for it."""
    await tx.session.execute(
        select(LedgerAccount.account_id)
        .where(
            LedgerAccount.purpose == "provider_clearing",
            LedgerAccount.provider == provider,
            LedgerAccount.currency.in_(sorted(currencies)),
        )
        .order_by(LedgerAccount.account_id)
        .with_for_update(key_share=True)
    )


async def _clearing_total(tx: Tx, provider: str, currency: str) -> int:
    total = await tx.session.scalar(
        select(func.coalesce(func.sum(LedgerPosting.amount_minor), 0))
        .join(LedgerAccount, LedgerAccount.account_id == LedgerPosting.account_id)
        .where(
            LedgerAccount.purpose == "provider_clearing",
            LedgerAccount.provider == provider,
            LedgerAccount.currency == currency,
        )
    )
    return int(total or 0)


async def _clearing_booked_for(tx: Tx, provider: str, operation_id: str) -> dict[str, int]:
    """What the operation's entries (adjustments included) put on our clearing accounts."""
    rows = await tx.session.execute(
        select(LedgerPosting.currency, func.sum(LedgerPosting.amount_minor))
        .join(LedgerEntry, LedgerEntry.entry_id == LedgerPosting.entry_id)
        .join(LedgerAccount, LedgerAccount.account_id == LedgerPosting.account_id)
        .where(
            LedgerEntry.flow_kind == "operation",
            LedgerEntry.flow_id == operation_id,
            LedgerAccount.purpose == "provider_clearing",
            LedgerAccount.provider == provider,
        )
        .group_by(LedgerPosting.currency)
    )
    return {currency: int(total) for currency, total in rows}


async def _adjusted_before(tx: Tx, operation_id: str) -> bool:
    found = await tx.session.scalar(
        select(
            exists().where(
                LedgerEntry.kind == "adjustment",
                LedgerEntry.flow_kind == "operation",
                LedgerEntry.flow_id == operation_id,
            )
        )
    )
    return bool(found)
