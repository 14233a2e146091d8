"""Erasure requests: asked for with the password, carried out 30 days later by the due job
``privacy.erase:<user_id>`` unless cancelled, deferred while a legal hold is active or money
is in the wallet (docs/user-rights.md, "Erasure")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, or_, select

from courtyard.core.clock import Clock
from courtyard.core.ids import new_id
from courtyard.db import Database, Tx
from courtyard.domains.accounts import AccountsService, Identity
from courtyard.domains.audit import append_audit_entry
from courtyard.domains.jobs import Job, Outcome, complete_leased, reschedule
from courtyard.domains.privacy.daily import schedule_tomorrow
from courtyard.domains.privacy.erasure_steps import ErasureTools, erase_user
from courtyard.domains.privacy.holds import get_active_holds
from courtyard.domains.privacy.models import ErasureRequest, LegalHold
from courtyard.domains.privacy.notices import add_user_notice
from courtyard.domains.privacy.rights_errors import (
    ErasureNotFound,
    ErasureNotPending,
    ErasurePending,
    WalletNotEmpty,
)
from courtyard.domains.wallet import MoneyHeld, get_money_held

GRACE = dt.timedelta(days=30)
ERASE_JOB = "privacy.erase"
RECHECK_JOB = "privacy.erasure_recheck"
OPEN = ("pending", "held")
# What the user is told about a deferred erasure: never which (a hold's case may be under a
# non-disclosure order), docs/user-rights.md "States".
HELD_EXPLANATION = (
    "Your erasure is deferred because of a legal obligation to keep your data, or because "
    "money is still on its way to or from your wallet. It proceeds once that ends; you can "
    "still cancel it."
)


@dataclass(frozen=True, slots=True)
class ErasureView:
    """An erasure request as its user sees it (``held_reason`` is for operators only)."""

    status: str
    requested_at: dt.datetime
    due_at: dt.datetime
    completed_at: dt.datetime | None
    held_reason: str | None

    def to_wire(self) -> dict[str, Any]:
        """The user's view: no ``held_reason``, a fixed explanation while held."""
        return {
            "status": self.status,
            "requested_at": _iso(self.requested_at),
            "due_at": _iso(self.due_at),
            "cancellable": self.status in OPEN,
            "explanation": HELD_EXPLANATION if self.status == "held" else None,
        }


class Erasures:
    """Requests, cancellations and the erase and re-check jobs."""

    def __init__(
        self, db: Database, clock: Clock, accounts: AccountsService, tools: ErasureTools
    ) -> None:
        self.db = db
        self.clock = clock
        self.accounts = accounts
        self.tools = tools

    async def do_request(self, identity: Identity, password: str) -> ErasureView:
        """Ask to be erased in 30 days; the password is checked again (throttled like a
        login). Refused while the wallet holds or awaits money, or a request is open."""
        await self.accounts.check_password(identity, password)
        user_id, now = identity.user_id, self.clock.now()
        async with self.db.transaction() as tx:
            row = await tx.session.get(ErasureRequest, user_id, with_for_update=True)
            if row is not None and row.status in OPEN:
                raise ErasurePending()
            _refuse_money(await get_money_held(tx.session, user_id))
            if row is None:
                row = ErasureRequest(user_id=user_id)
                tx.session.add(row)
            row.requested_at, row.due_at, row.device_id = now, now + GRACE, identity.device_id
            row.status, row.held_reason, row.completed_at, row.pseudonym = (
                "pending",
                None,
                None,
                None,
            )
            await reschedule(tx, ERASE_JOB, user_id, row.due_at, now=now)
            await self._record(tx, identity, "privacy.erasure.request", row.due_at)
            await add_user_notice(
                tx, self.clock, user_id=user_id, kind="erasure",
                title="Your account will be erased",
                body=f"Your account and data will be erased on {_day(row.due_at)} (UTC). "
                "Cancel before then to keep them.",
            )  # fmt: skip
            return _view(row)

    async def get_erasure(self, identity: Identity) -> ErasureView:
        """The caller's erasure request; ``erasure_not_found`` if they never made one."""
        async with self.db.read() as session:
            row = await session.get(ErasureRequest, identity.user_id)
        if row is None:
            raise ErasureNotFound()
        return _view(row)

    async def do_cancel(self, identity: Identity) -> ErasureView:
        """Cancel a pending or held request; the account stays."""
        async with self.db.transaction() as tx:
            row = await tx.session.get(ErasureRequest, identity.user_id, with_for_update=True)
            if row is None:
                raise ErasureNotFound()
            if row.status not in OPEN:
                raise ErasureNotPending()
            row.status, row.held_reason = "cancelled", None
            await self._record(tx, identity, "privacy.erasure.cancel", row.due_at)
            await add_user_notice(
                tx, self.clock, user_id=identity.user_id, kind="erasure",
                title="Your erasure was cancelled", body="Your account will not be erased.",
            )  # fmt: skip
            return _view(row)

    async def _record(self, tx: Tx, identity: Identity, action: str, due: dt.datetime) -> None:
        await append_audit_entry(
            tx, self.clock, actor=f"user:{identity.user_id}", action=action,
            target=f"user:{identity.user_id}", subject_user_id=identity.user_id,
            detail={"due_at": _iso(due), "device_id": identity.device_id},
        )  # fmt: skip

    # --- the jobs ---------------------------------------------------------------------------

    async def run_erase(self, tx: Tx, job: Job) -> Outcome:
        """The ``privacy.erase`` job: erase the user, or mark the request held (with the
        oldest active hold's reason, or money still in the wallet)."""
        user_id, now = job.ref_id, self.clock.now()
        row = await tx.session.get(ErasureRequest, user_id, with_for_update=True)
        if row is None or row.status not in OPEN or row.due_at > now:
            return "skipped"
        holds = await get_active_holds(tx.session, user_id)
        if holds:
            await self._hold(tx, row, holds[0].reason, {"holds": [h.hold_id for h in holds]})
            return "applied"
        money = await get_money_held(tx.session, user_id, for_update=True)
        if not money.empty:
            money_detail = {"balances": list(money.balances), "in_flight": money.in_flight}
            await self._hold(tx, row, _money_reason(money), money_detail)
            return "applied"
        pseudonym = new_id()
        rows = await erase_user(tx, self.tools, user_id, pseudonym)
        row.status, row.completed_at, row.pseudonym = "done", now, pseudonym
        row.held_reason, row.device_id = None, None
        await append_audit_entry(
            tx, self.clock, actor="system", action="privacy.erasure.done",
            target=f"user:{user_id}", subject_user_id=user_id, detail={"rows": rows},
        )  # fmt: skip
        return "applied"

    async def _hold(self, tx: Tx, row: ErasureRequest, reason: str, detail: dict[str, Any]) -> None:
        """Mark ``row`` held for ``reason``; the audit entry only when something changed (a
        request held for money is retried daily)."""
        reason = reason[:500]
        if row.status == "held" and row.held_reason == reason:
            return
        row.status, row.held_reason = "held", reason
        await append_audit_entry(
            tx, self.clock, actor="system", action="privacy.erasure.held",
            target=f"user:{row.user_id}", subject_user_id=row.user_id, note=reason,
            detail=detail,
        )  # fmt: skip

    async def run_recheck_job(self, job: Job) -> Outcome:
        """The daily ``privacy.erasure_recheck`` job: move the erase job to now for every
        held (or overdue pending) request whose user has no active hold; then tomorrow's."""
        now = self.clock.now()
        async with self.db.transaction() as tx:
            if not await complete_leased(tx, job, "applied", now=now):
                return "skipped"  # another node's run of this day finished first
            await self.recheck_all(tx, now)
            await schedule_tomorrow(tx, RECHECK_JOB, now)
        return "applied"

    async def recheck_all(self, tx: Tx, now: dt.datetime) -> int:
        """Re-arm the erase job of every held or overdue request free of holds; how many."""
        held = exists().where(
            LegalHold.user_id == ErasureRequest.user_id, LegalHold.released_at.is_(None)
        )
        due = await tx.session.scalars(
            select(ErasureRequest.user_id).where(
                or_(
                    ErasureRequest.status == "held",
                    (ErasureRequest.status == "pending") & (ErasureRequest.due_at <= now),
                ),
                ~held,
            )
        )
        users = list(due)
        for user_id in users:
            await reschedule(tx, ERASE_JOB, user_id, now, now=now)
        return len(users)


async def rearm_held_erasure(tx: Tx, clock: Clock, user_id: str) -> bool:
    """After a hold on ``user_id`` is released: if their erasure is held and no other hold is
    active, run the erase job now. Returns whether it was re-armed."""
    row = await tx.session.get(ErasureRequest, user_id)
    if row is None or row.status != "held" or await get_active_holds(tx.session, user_id):
        return False
    now = clock.now()
    await reschedule(tx, ERASE_JOB, user_id, now, now=now)
    return True


def _refuse_money(money: MoneyHeld) -> None:
    if not money.empty:
        what = ", ".join(
            [f"{b['amount']} {b['currency']}" for b in money.balances] + money.in_flight
        )
        raise WalletNotEmpty(
            f"Money is still in or on its way to your wallet ({what}): withdraw or spend it, "
            "or wait for it to settle, then ask again.",
            balances=list(money.balances), in_flight=money.in_flight,
        )  # fmt: skip


def _money_reason(money: MoneyHeld) -> str:
    parts = [f"{b['amount']} {b['currency']}" for b in money.balances]
    parts += money.in_flight
    return "wallet_not_empty: " + ", ".join(parts)


def _view(row: ErasureRequest) -> ErasureView:
    return ErasureView(row.status, row.requested_at, row.due_at, row.completed_at, row.held_reason)


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _day(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d")
