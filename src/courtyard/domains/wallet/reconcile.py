"""Daily reconciliation with the payment provider (docs/wallet.md, "Reconciliation").

A run fetches the provider's signed report for one UTC day and compares it with our
operations. An operation the provider settled whose callback never reached us is moved by the
very code a callback runs (``Operations.apply_status``) and recorded as a ``fixed`` item in
the same transaction. Every other difference becomes an exception item (``missing_there``,
``missing_here``, ``mismatch``, ``stuck``, ``balance``) for a finance operator to resolve
(``reconcile_resolutions``). The ``reconcile:<provider>:<day>`` job runs at 02:00 UTC for the
day before and schedules the next day's in the transaction that records its run.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update

from courtyard.core.clock import Clock
from courtyard.core.ids import new_id
from courtyard.db import Database
from courtyard.domains.accounts import record_operator_action
from courtyard.domains.jobs import Job, Outcome, complete_leased, schedule
from courtyard.domains.wallet.context import iso
from courtyard.domains.wallet.errors import ProviderUnavailable
from courtyard.domains.wallet.flow_models import ProviderOperation
from courtyard.domains.wallet.models import LedgerAccount, LedgerPosting
from courtyard.domains.wallet.operations import Operations
from courtyard.domains.wallet.oversight_models import ReconciliationItem, ReconciliationRun
from courtyard.domains.wallet.providers import (
    PaymentProvider,
    ProviderStatus,
    SettlementLine,
    status_name,
)

RECONCILE_JOB = "reconcile"
RUN_AT = dt.time(2, 0)  # UTC, for the day before
STUCK_AFTER = dt.timedelta(hours=24)
OPEN_STATES = ("created", "pending", "held", "submitted")
NO_MONEY_THERE = ("failed", "cancelled")
NO_MONEY_HERE = ("failed", "expired")
COUNTED = ("matched", "fixed", "missing_there", "missing_here", "mismatch", "stuck", "balance")
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class ReconciliationItemView:
    run_id: str
    item_no: int
    kind: str
    operation_id: str | None
    provider_ref: str | None
    detail: dict[str, Any]
    resolved_by: str | None
    resolved_at: dt.datetime | None
    resolution: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class ReconciliationRunView:
    """A run as the admin console and the CLI show it; ``items`` only from
    ``reconciliation_run``, ``unresolved`` counts exceptions waiting for an operator."""

    run_id: str
    provider: str
    day: dt.date
    state: str
    counts: dict[str, Any]
    started_at: dt.datetime
    finished_at: dt.datetime | None
    unresolved: int
    items: tuple[ReconciliationItemView, ...] = ()


def reconcile_job_ref(provider: str, day: dt.date) -> str:
    return f"{provider}:{day.isoformat()}"


def reconcile_due_at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), RUN_AT, dt.UTC)


@dataclass
class _Run:
    """A run under way: its counts, and the exceptions written when it ends."""

    run_id: str
    counts: Counter[str] = field(default_factory=Counter)
    exceptions: list[ReconciliationItem] = field(default_factory=list)
    next_no: int = 1

    @property
    def initiator(self) -> str:
        return f"reconciliation:{self.run_id}"

    def item(
        self, kind: str, operation_id: str | None, ref: str | None, detail: dict[str, Any]
    ) -> ReconciliationItem:
        self.counts[kind] += 1
        self.next_no += 1
        return ReconciliationItem(
            run_id=self.run_id, item_no=self.next_no - 1, kind=kind, operation_id=operation_id,
            provider_ref=ref, detail=detail, resolved_by=None, resolved_at=None,
            resolution=None, note=None,
        )  # fmt: skip

    def exception(
        self, kind: str, operation_id: str | None, ref: str | None, detail: dict[str, Any]
    ) -> None:
        self.exceptions.append(self.item(kind, operation_id, ref, detail))


class _TakenOver(Exception):
    """Another node's run of this job finished first (this node's lease had run out)."""


class Reconciliation:
    def __init__(self, db: Database, clock: Clock, operations: Operations) -> None:
        self.db = db
        self.clock = clock
        self.operations = operations

    async def start(self, *, schedule_job: bool) -> None:
        """Schedule yesterday's run for 02:00 today unless it exists (every node does this at
        start; each run then schedules the next day's)."""
        provider = self.operations.provider
        if not schedule_job or provider is None:
            return
        now = self.clock.now()
        day = now.date() - dt.timedelta(days=1)
        async with self.db.transaction() as tx:
            ref = reconcile_job_ref(provider.name, day)
            await schedule(tx, RECONCILE_JOB, ref, reconcile_due_at(day), now=now)

    async def run_job(self, job: Job) -> Outcome:
        """The ``reconcile:<provider>:<day>`` job."""
        provider_name, _, day = job.ref_id.rpartition(":")
        try:
            await self._run(self._provider(provider_name), dt.date.fromisoformat(day), job, None)
        except _TakenOver:
            return "skipped"
        return "applied"

    async def do_reconcile(
        self, day: dt.date, *, operator_id: str | None = None
    ) -> ReconciliationRunView:
        """An operator's run for ``day`` (``courtyard admin wallet reconcile``, the console);
        with ``operator_id``, recorded in ``operator_actions`` with the run's row."""
        provider = self._provider(None)
        run_id = await self._run(provider, day, None, operator_id)
        view = await self.reconciliation_run(run_id)
        assert view is not None
        return view

    def _provider(self, name: str | None) -> PaymentProvider:
        provider = self.operations.provider
        if provider is None:
            raise ProviderUnavailable("No payment provider is configured here")
        if name is not None and provider.name != name:
            raise ProviderUnavailable(f"The provider {name!r} is not configured here")
        return provider

    async def _run(
        self, provider: PaymentProvider, day: dt.date, job: Job | None, operator_id: str | None
    ) -> str:
        report = await provider.report(day)
        run = _Run(new_id())
        async with self.db.transaction() as tx:
            tx.session.add(
                ReconciliationRun(
                    run_id=run.run_id, provider=provider.name, day=day, state="running",
                    counts={}, started_at=self.clock.now(), finished_at=None,
                )
            )  # fmt: skip
            if operator_id is not None:
                await record_operator_action(
                    tx, self.clock, operator_id, "wallet.reconciliation.run",
                    f"reconciliation_run:{run.run_id}", day.isoformat(),
                )  # fmt: skip
        try:
            ours = await self._operations([line.operation_id for line in report.lines])
            for line in report.lines:
                await self._compare(run, provider.name, line, ours.get(line.operation_id))
            await self._missing_there(run, provider, day, {o.operation_id for o in report.lines})
            await self._stuck(run, provider.name)
            await self._balance(run, provider.name, report.balances)
            await self._finish(run, provider.name, day, len(report.lines), job)
        except Exception:
            await self._fail(run)
            raise
        return run.run_id

    async def _operations(self, ids: list[str]) -> dict[str, ProviderOperation]:
        found: dict[str, ProviderOperation] = {}
        async with self.db.read() as session:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                rows = await session.scalars(
                    select(ProviderOperation).where(ProviderOperation.operation_id.in_(chunk))
                )
                found.update((row.operation_id, row) for row in rows)
        return found

    async def _compare(
        self, run: _Run, provider: str, line: SettlementLine, row: ProviderOperation | None
    ) -> None:
        there = {"status": line.status, "kind": line.kind, "amount_minor": line.amount_minor,
                 "currency": line.currency}  # fmt: skip
        if row is None or row.provider != provider:
            run.exception("missing_here", line.operation_id, line.provider_ref, {"there": there})
            return
        reported = ProviderStatus(
            status_name(line.status), line.amount_minor, line.currency, line.kind
        )
        async with self.db.transaction() as tx:
            outcome = await self.operations.apply_status(
                tx, row.operation_id, reported, run.initiator
            )
            state = (await self.operations.states.fresh(tx, row.operation_id)).state
            if outcome == "applied":  # a lost callback: fixed with its record, at once
                item = run.item("fixed", row.operation_id, line.provider_ref,
                                {"from": row.state, "to": state, "there": there})  # fmt: skip
                item.resolution, item.resolved_at = "applied_provider_status", self.clock.now()
                item.note = "applied by the reconciliation run, as the lost callback would"
                tx.session.add(item)
                return
        if outcome == "mismatch" or not _agrees(line.status, state):
            here = {"state": state, "kind": row.kind, "amount_minor": row.amount_minor,
                    "currency": row.currency}  # fmt: skip
            run.exception("mismatch", row.operation_id, line.provider_ref,
                          {"here": here, "there": there})  # fmt: skip
        else:
            run.counts["matched"] += 1

    async def _missing_there(
        self, run: _Run, provider: PaymentProvider, day: dt.date, reported: set[str]
    ) -> None:
        """Operations that succeeded here on ``day`` but are not in its report: a status
        query tells one settled on another day (in that day's report) from a real absence."""
        start = dt.datetime.combine(day, dt.time(), dt.UTC)
        async with self.db.read() as session:
            rows = list(
                await session.scalars(
                    select(ProviderOperation)
                    .where(
                        ProviderOperation.state == "succeeded",
                        ProviderOperation.provider == provider.name,
                        ProviderOperation.updated_at >= start,
                        ProviderOperation.updated_at < start + dt.timedelta(days=1),
                    )
                    .order_by(ProviderOperation.updated_at, ProviderOperation.operation_id)
                )
            )
        for row in rows:
            if row.operation_id in reported:
                continue
            status = await provider.status(row.operation_id)
            if status.status != "succeeded":
                detail = {"kind": row.kind, "amount_minor": row.amount_minor,
                          "currency": row.currency, "provider_status": status.status}  # fmt: skip
                run.exception("missing_there", row.operation_id, row.provider_ref, detail)

    async def _stuck(self, run: _Run, provider: str) -> None:
        cutoff = self.clock.now() - STUCK_AFTER
        async with self.db.read() as session:
            rows = await session.scalars(
                select(ProviderOperation)
                .where(
                    ProviderOperation.state.in_(OPEN_STATES),
                    ProviderOperation.provider == provider,
                    ProviderOperation.created_at < cutoff,
                )
                .order_by(ProviderOperation.created_at, ProviderOperation.operation_id)
            )
            for row in rows:
                detail = {"state": row.state, "kind": row.kind, "amount_minor": row.amount_minor,
                          "currency": row.currency, "created_at": iso(row.created_at)}  # fmt: skip
                run.exception("stuck", row.operation_id, row.provider_ref, detail)

    async def _balance(self, run: _Run, provider: str, balances: dict[str, int]) -> None:
        """What the provider holds must be minus our clearing balance, per currency."""
        clearing = await clearing_balances(self.db, provider)
        for currency in sorted(clearing.keys() | balances.keys()):
            ours, theirs = clearing.get(currency, 0), balances.get(currency, 0)
            if -ours != theirs:
                detail = {"currency": currency, "clearing_minor": ours, "provider_minor": theirs,
                          "difference_minor": theirs + ours}  # fmt: skip
                run.exception("balance", None, None, detail)

    async def _finish(
        self, run: _Run, provider: str, day: dt.date, lines: int, job: Job | None
    ) -> None:
        now = self.clock.now()
        counts = {"lines": lines, **{kind: run.counts[kind] for kind in COUNTED}}
        async with self.db.transaction() as tx:
            if job is not None:
                if not await complete_leased(tx, job, "applied", now=now):
                    raise _TakenOver()
                following = day + dt.timedelta(days=1)
                ref = reconcile_job_ref(provider, following)
                await schedule(tx, RECONCILE_JOB, ref, reconcile_due_at(following), now=now)
            tx.session.add_all(run.exceptions)
            await tx.session.execute(
                update(ReconciliationRun)
                .where(ReconciliationRun.run_id == run.run_id)
                .values(state="finished", counts=counts, finished_at=now)
            )

    async def _fail(self, run: _Run) -> None:
        """Close a run that could not finish (its ``fixed`` items stay: they happened)."""
        counts = {kind: run.counts[kind] for kind in COUNTED}
        async with self.db.transaction() as tx:
            await tx.session.execute(
                update(ReconciliationRun)
                .where(ReconciliationRun.run_id == run.run_id)
                .values(state="failed", counts=counts, finished_at=self.clock.now())
            )

    async def list_reconciliation_runs(self, limit: int = 50) -> list[ReconciliationRunView]:
        """Runs, newest first, without their items."""
        async with self.db.read() as session:
            rows = list(
                await session.scalars(
                    select(ReconciliationRun)
                    .order_by(ReconciliationRun.started_at.desc(), ReconciliationRun.run_id.desc())
                    .limit(max(1, min(limit, 500)))
                )
            )
            counted = await session.execute(
                select(ReconciliationItem.run_id, func.count())
                .where(
                    ReconciliationItem.run_id.in_([r.run_id for r in rows]),
                    ReconciliationItem.resolved_at.is_(None),
                )
                .group_by(ReconciliationItem.run_id)
            )
            open_items = {run_id: int(n) for run_id, n in counted}
        return [_run_view(row, open_items.get(row.run_id, 0), ()) for row in rows]

    async def reconciliation_run(self, run_id: str) -> ReconciliationRunView | None:
        """One run with its items in order, or None."""
        async with self.db.read() as session:
            row = await session.get(ReconciliationRun, run_id)
            if row is None:
                return None
            items = tuple(
                item_view(item)
                for item in await session.scalars(
                    select(ReconciliationItem)
                    .where(ReconciliationItem.run_id == run_id)
                    .order_by(ReconciliationItem.item_no)
                )
            )
        return _run_view(row, sum(1 for i in items if i.resolved_at is None), items)


async def clearing_balances(db: Database, provider: str) -> dict[str, int]:
    """The balance of each of ``provider``'s clearing accounts, by currency."""
    async with db.read() as session:
        rows = await session.execute(
            select(LedgerAccount.currency, func.coalesce(func.sum(LedgerPosting.amount_minor), 0))
            .outerjoin(LedgerPosting, LedgerPosting.account_id == LedgerAccount.account_id)
            .where(LedgerAccount.purpose == "provider_clearing", LedgerAccount.provider == provider)
            .group_by(LedgerAccount.currency)
        )
        return {currency: int(total) for currency, total in rows}


def _agrees(status_there: str, state_here: str) -> bool:
    if status_there == "succeeded":
        return state_here == "succeeded"
    return status_there in NO_MONEY_THERE and state_here in NO_MONEY_HERE


def item_view(row: ReconciliationItem) -> ReconciliationItemView:
    return ReconciliationItemView(
        run_id=row.run_id, item_no=row.item_no, kind=row.kind, operation_id=row.operation_id,
        provider_ref=row.provider_ref, detail=dict(row.detail), resolved_by=row.resolved_by,
        resolved_at=row.resolved_at, resolution=row.resolution, note=row.note,
    )  # fmt: skip


def _run_view(
    row: ReconciliationRun, unresolved: int, items: tuple[ReconciliationItemView, ...]
) -> ReconciliationRunView:
    return ReconciliationRunView(
        run_id=row.run_id, provider=row.provider, day=row.day, state=row.state,
        counts=dict(row.counts), started_at=row.started_at, finished_at=row.finished_at,
        unresolved=unresolved, items=items,
    )  # fmt: skip
