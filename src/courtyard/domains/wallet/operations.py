"""Top-ups and withdrawals through the payment provider (docs/wallet.md, "Top-up and
withdrawal").

A top-up is ``created`` with its idempotency key, submitted right after the commit
(``pending``) and credited when the provider reports it paid. A withdrawal holds the money in
escrow in its first transaction (``held``), is submitted (``submitted``), and is then settled
to the provider or reversed to the user. Every transition is one transaction: a
compare-and-set on the state, the entry, the ``wallet.operation`` event. Provider calls never
run inside a transaction; the ``*.submit`` and ``*.check`` jobs repeat them idempotently.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from courtyard.core.ids import is_id, new_id
from courtyard.core.money import Money
from courtyard.db import Tx
from courtyard.domains.accounts import Identity
from courtyard.domains.jobs import Job, Outcome, schedule
from courtyard.domains.wallet.accounts import AccountRef
from courtyard.domains.wallet.context import Flow, WalletContext
from courtyard.domains.wallet.errors import (
    BadSignature,
    OperationNotFound,
    ProviderRefused,
    ProviderUnavailable,
    SandboxOnly,
)
from courtyard.domains.wallet.flow_models import ProviderCallback, ProviderOperation
from courtyard.domains.wallet.idempotency import Answer, Request, request_hash
from courtyard.domains.wallet.ledger import EntryDraft, Leg
from courtyard.domains.wallet.operation_states import (
    FIRST_STATE,
    SUBMITTED_STATE,
    OperationStates,
    Report,
    announce,
    operation_wire,
)
from courtyard.domains.wallet.providers import (
    PaymentProvider,
    ProviderRequest,
    ProviderStatus,
)
from courtyard.domains.wallet.providers import ProviderCallback as ProviderEvent

log = logging.getLogger(__name__)

SUBMIT_JOBS = {"topup": "topup.submit", "withdrawal": "withdrawal.submit"}
CHECK_JOBS = {"topup": "topup.check", "withdrawal": "withdrawal.check"}
FIRST_CHECK = dt.timedelta(minutes=15)
CHECK_EVERY = dt.timedelta(hours=1)
GIVE_UP = dt.timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class OperationRequest:
    """A top-up (``destination`` and ``pin`` unused) or a withdrawal."""

    kind: str
    amount: Money
    sandbox: dict[str, Any] | None = None
    destination: str | None = None
    pin: object = None


def _check_job_id(kind: str, operation_id: str, number: int) -> str:
    return f"{CHECK_JOBS[kind]}:{operation_id}:{number}"


class Operations(Flow):
    def __init__(
        self, context: WalletContext, provider: PaymentProvider | None, callback_url: str
    ) -> None:
        super().__init__(context)
        self.provider = provider
        self.callback_url = callback_url
        self.states = OperationStates(context.clock, context.ledger, context.accounts)

    async def start(self) -> None:
        """Start the provider client and make its clearing accounts."""
        if self.provider is None:
            return
        await self.provider.start()
        for currency in self.policy.currencies:
            await self.accounts.ensure_system("provider_clearing", currency, self.provider.name)

    async def stop(self) -> None:
        if self.provider is not None:
            await self.provider.aclose()

    async def do_create(self, identity: Identity, key: str, req: OperationRequest) -> Answer:
        """Create a top-up (``created``) or a withdrawal (``held``: the money leaves the
        balance now) exactly once per key, then submit it to the provider. Checks that need
        no lock come first and bind nothing."""
        withdrawal = req.kind == "withdrawal"
        if withdrawal:
            self.policy.check_single(req.amount)
        provider = self._provider_for(req.sandbox)
        request = Request(
            identity.user_id,
            key,
            f"{req.kind}.create",
            request_hash(
                f"{req.kind}.create",
                {
                    "amount_minor": req.amount.amount_minor,
                    "currency": req.amount.currency,
                    "destination": req.destination,
                    "sandbox": req.sandbox,
                },
            ),
        )
        if (replay := await self.idempotency.replay(request)) is not None:
            return replay
        if withdrawal:
            await self.pins.check(identity.user_id, req.pin)
            await self.accounts.ensure_system("withdrawal_escrow", req.amount.currency)
        account = await self.accounts.ensure_user(identity.user_id, req.amount.currency)
        await self.accounts.ensure_system("provider_clearing", req.amount.currency, provider.name)
        operation_id = new_id()

        async def effect(tx: Tx) -> tuple[dict[str, Any], str | None]:
            row = await self._insert(tx, operation_id, identity, key, req, account, provider.name)
            return operation_wire(row), operation_id

        answer = await self.idempotency.run(request, effect)
        if not answer.replayed:
            await self._submit_quietly(operation_id)
        return answer

    async def _insert(
        self,
        tx: Tx,
        operation_id: str,
        identity: Identity,
        key: str,
        req: OperationRequest,
        account: AccountRef,
        provider: str,
    ) -> ProviderOperation:
        now = self.clock.now()
        row = ProviderOperation(
            operation_id=operation_id, kind=req.kind, provider=provider,
            user_id=identity.user_id, account_id=account.account_id,
            amount_minor=req.amount.amount_minor, fee_minor=0, currency=req.amount.currency,
            state=FIRST_STATE[req.kind], provider_ref=None, next_action=None,
            destination=req.destination, behaviour=req.sandbox, failure_code=None,
            hold_entry_id=None, final_entry_id=None, idempotency_key=key,
            created_at=now, updated_at=now,
        )  # fmt: skip
        async with self.ledger.book(tx) as book:
            if req.kind == "withdrawal":
                escrow = await self.accounts.existing_system("withdrawal_escrow", row.currency)
                daily = self.policy.daily_limit(row.currency).amount_minor
                posted = await book.post(
                    EntryDraft(
                        "withdrawal_hold",
                        "withdrawal",
                        (
                            Leg(account, -row.amount_minor, daily_limit_minor=daily),
                            Leg(escrow, row.amount_minor),
                        ),
                        initiator=f"user:{identity.user_id}",
                        flow_kind="operation",
                        flow_id=operation_id,
                    )
                )
                row.hold_entry_id = posted.entry_id
            tx.session.add(row)
            await tx.session.flush()
            await schedule(tx, SUBMIT_JOBS[req.kind], operation_id, now, now=now)
            announce(book, row)
        return row

    async def access_operation(self, identity: Identity, operation_id: str) -> dict[str, Any]:
        """The caller's own operation; anyone else's is ``operation_not_found``."""
        row = await self._read(operation_id) if is_id(operation_id) else None
        if row is None or row.user_id != identity.user_id:
            raise OperationNotFound()
        return operation_wire(row)

    async def do_callback(self, provider_name: str, headers: Mapping[str, str], body: bytes) -> str:
        """Verify and apply one provider callback in one transaction; returns its outcome
        (``applied``, ``duplicate``, ``noop``, ``mismatch``)."""
        provider = self.provider
        if provider is None or provider.name != provider_name:
            raise BadSignature("No callbacks are expected from this provider")
        event = provider.parse_callback(headers, body)
        report = Report(
            event.status, event.amount_minor, event.currency, event.kind, event.failure_code
        )
        async with self.db.transaction() as tx:
            row = await tx.session.get(ProviderOperation, event.operation_id)
            if row is None or row.provider != provider.name:
                raise OperationNotFound()
            if not await self._record_callback(tx, event):
                return "duplicate"
            outcome = await self.states.settle(
                tx, event.operation_id, report, f"provider:{row.provider}"
            )
            await tx.session.execute(
                update(ProviderCallback)
                .where(
                    ProviderCallback.operation_id == event.operation_id,
                    ProviderCallback.event_id == event.event_id,
                )
                .values(outcome=outcome)
            )
        return outcome

    async def _record_callback(self, tx: Tx, event: ProviderEvent) -> bool:
        """Insert the callback's row; False if this event was recorded before."""
        dialect = tx.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        values = {
            "operation_id": event.operation_id,
            "event_id": event.event_id,
            "received_at": self.clock.now(),
            "status": event.status,
            "amount_minor": event.amount_minor,
            "currency": event.currency,
            "outcome": "noop",
            "body_sha256": event.body_sha256,
        }
        inserted = await tx.session.execute(
            insert(ProviderCallback)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["operation_id", "event_id"])
            .returning(ProviderCallback.event_id)
        )
        return inserted.scalar_one_or_none() is not None

    async def run_submit(self, job: Job) -> Outcome:
        """The ``*.submit`` job: create the charge or payout (idempotent by operation id)."""
        return await self._submit(job.ref_id)

    async def _submit_quietly(self, operation_id: str) -> None:
        # The operation is committed and answered either way; the submit job retries.
        try:
            await self._submit(operation_id)
        except Exception as exc:
            log.warning(
                "submitting an operation failed; its job will retry",
                extra={"operation_id": operation_id, "error": type(exc).__name__},
            )

    async def _submit(self, operation_id: str) -> Outcome:
        row = await self._read(operation_id)
        if row is None or row.state != FIRST_STATE[row.kind]:
            return "skipped"
        provider = self._provider_named(row.provider)
        request = ProviderRequest(
            operation_id, row.amount_minor, row.currency, self.callback_url,
            row.destination, row.behaviour,
        )  # fmt: skip
        create = provider.create_charge if row.kind == "topup" else provider.create_payout
        try:
            accepted = await create(request)
        except ProviderRefused as exc:
            code = str(exc.extra.get("provider_code", exc.code))
            async with self.db.transaction() as tx:
                outcome = await self.states.settle(
                    tx,
                    operation_id,
                    Report("failed", failure_code=code),
                    f"provider:{row.provider}",
                )
            return "applied" if outcome == "applied" else "skipped"
        now = self.clock.now()
        async with self.db.transaction() as tx:
            moved = await self.states.move(
                tx, row, SUBMITTED_STATE[row.kind], f"provider:{row.provider}",
                provider_ref=accepted.provider_ref, next_action=accepted.next_action,
            )  # fmt: skip
            if not moved:
                return "skipped"
            job_id = _check_job_id(row.kind, operation_id, 1)
            await schedule(
                tx, CHECK_JOBS[row.kind], operation_id, now + FIRST_CHECK, job_id=job_id, now=now
            )
        return "applied"

    async def run_check(self, job: Job) -> Outcome:
        """The ``*.check`` job: ask the provider and apply a final status as a callback
        would; otherwise check again in an hour, until 24 h (then a top-up is cancelled)."""
        row = await self._read(job.ref_id)
        if row is None or row.state != SUBMITTED_STATE[row.kind]:
            return "skipped"
        provider = self._provider_named(row.provider)
        status = await provider.status(row.operation_id)
        now = self.clock.now()
        overdue = now - row.created_at >= GIVE_UP
        if status.status == "pending" and overdue and row.kind == "topup":
            status = await provider.cancel(row.operation_id)
        async with self.db.transaction() as tx:
            outcome = await self.apply_status(tx, row.operation_id, status, f"job:{job.job_id}")
            if outcome is not None:
                return "skipped" if outcome == "noop" else "applied"
            if not overdue:
                number = int(job.job_id.rsplit(":", 1)[1]) + 1
                job_id = _check_job_id(row.kind, row.operation_id, number)
                await schedule(
                    tx, job.kind, row.operation_id, now + CHECK_EVERY, job_id=job_id, now=now
                )
        return "skipped"

    async def apply_status(
        self, tx: Tx, operation_id: str, status: ProviderStatus, initiator: str
    ) -> str | None:
        """Apply in ``tx`` what the provider says of an operation, as its callback would (the
        check job and reconciliation use this): a final status settles it and the outcome is
        ``applied``, ``noop`` or ``mismatch``; a top-up the provider cancelled expires. None
        if the status is not final (pending, unknown)."""
        row = await self.states.fresh(tx, operation_id)
        report = _report(row, status)
        if report is not None:
            return await self.states.settle(tx, operation_id, report, initiator)
        if status.status == "cancelled":  # a top-up cancelled (by the check job at 24 h)
            waiting = row.state == SUBMITTED_STATE[row.kind]
            moved = waiting and await self.states.move(tx, row, "expired", initiator)
            return "applied" if moved else "noop"
        return None

    async def _read(self, operation_id: str) -> ProviderOperation | None:
        async with self.db.read() as session:
            return await session.get(ProviderOperation, operation_id)

    def _provider_for(self, sandbox: dict[str, Any] | None) -> PaymentProvider:
        if self.provider is None:
            raise ProviderUnavailable()
        if sandbox is not None and self.provider.name != "sandbox":
            raise SandboxOnly()
        return self.provider

    def _provider_named(self, name: str) -> PaymentProvider:
        if self.provider is None or self.provider.name != name:
            raise ProviderUnavailable(f"The provider {name!r} is not configured here")
        return self.provider


def _report(row: ProviderOperation, status: ProviderStatus) -> Report | None:
    """A status query's answer as a report, if it is final; a cancelled payout failed."""
    final = status.status
    if final == "cancelled" and row.kind == "withdrawal":
        final = "failed"
    if final not in ("succeeded", "failed"):
        return None
    failure = status.failure_code or ("cancelled" if status.status == "cancelled" else None)
    return Report(final, status.amount_minor, status.currency, status.kind, failure)
