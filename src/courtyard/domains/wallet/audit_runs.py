"""The ledger audit as recorded runs: the 10-minute ``wallet.audit`` job and the operator's
``courtyard admin wallet audit [--full]`` (docs/wallet.md, "Audit").

Each run is one ``wallet_audit_runs`` row. An incremental run checks what was written since
the previous run's watermark, which stays 10 minutes behind now so that a transaction that
commits late (none lives longer than 60 s) is not missed; it also re-checks the entries and
accounts the previous run found wrong, so a finding stays until it is gone. The job recurs:
each run schedules the next slot's job in the transaction that records it, and the job id
``wallet.audit:<slot>`` makes it run once per slot however many nodes poll.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from courtyard.core.clock import Clock
from courtyard.core.ids import new_id
from courtyard.db import Database
from courtyard.domains.accounts import record_operator_action
from courtyard.domains.jobs import Job, Outcome, complete_leased, schedule
from courtyard.domains.wallet.audit import (
    ACCOUNT_CHECKS,
    ENTRY_CHECKS,
    AuditReport,
    AuditWindow,
    audit_ledger,
)
from courtyard.domains.wallet.oversight_models import WalletAuditRun

AUDIT_JOB = "wallet.audit"
AUDIT_EVERY = dt.timedelta(minutes=10)
WATERMARK_LAG = dt.timedelta(minutes=10)
# A run stores at most this many findings (and their true count): enough to act on.
MAX_STORED_FINDINGS = 500
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class AuditRunView:
    """A recorded run as the admin console and the CLI show it. ``findings`` hold a check
    name, a subject id and ids or sums only; ``checked`` counts the accounts, entries and
    postings the run looked at."""

    run_id: str
    scope: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    watermark: dt.datetime | None
    ok: bool | None
    finding_count: int
    findings: list[dict[str, Any]]
    checked: dict[str, int]


def slot_of(moment: dt.datetime) -> dt.datetime:
    """The start of the 10-minute slot ``moment`` falls in (UTC)."""
    return _EPOCH + (moment - _EPOCH) // AUDIT_EVERY * AUDIT_EVERY


def audit_job_id(slot: dt.datetime) -> str:
    return f"{AUDIT_JOB}:{_slot_ref(slot)}"


def _slot_ref(slot: dt.datetime) -> str:
    return slot.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")


class _TakenOver(Exception):
    """Another node's run of this job finished first (this node's lease had run out)."""


class AuditRuns:
    """Runs the audit and records each run; ``on_findings`` (e.g. a gauge) is told the number
    of findings of every run this process records, and of the latest one at start."""

    def __init__(
        self, db: Database, clock: Clock, *, on_findings: Callable[[int], None] | None = None
    ) -> None:
        self.db = db
        self.clock = clock
        self.on_findings = on_findings

    async def start(self, *, schedule_job: bool) -> None:
        """Schedule this slot's audit job unless it exists (every node does this at start),
        and show the latest recorded run on the metric."""
        if schedule_job:
            now = self.clock.now()
            slot = slot_of(now)
            async with self.db.transaction() as tx:
                await schedule(tx, AUDIT_JOB, _slot_ref(slot), slot, now=now)
        latest = await self.latest_audit_run()
        if latest is not None:
            self._publish(latest)

    async def run_job(self, job: Job) -> Outcome:
        """The ``wallet.audit`` job: an incremental run, recorded in one transaction with the
        job's completion and the next slot's job."""
        try:
            await self._run(full=False, job=job)
        except _TakenOver:
            return "skipped"
        return "applied"

    async def do_audit(self, *, full: bool, operator_id: str | None = None) -> AuditRunView:
        """An operator's run, recorded like the job's: incremental from the last watermark,
        or ``full`` (every entry, posting and account). With ``operator_id`` (the console),
        the run is also an ``operator_actions`` row, written with it."""
        return await self._run(full=full, job=None, operator_id=operator_id)

    async def _run(
        self, *, full: bool, job: Job | None, operator_id: str | None = None
    ) -> AuditRunView:
        started = self.clock.now()
        window = None if full else await self._window(started - WATERMARK_LAG)
        watermark = window.until if window else started - WATERMARK_LAG
        report = await audit_ledger(self.db, window)
        finished = self.clock.now()
        row = WalletAuditRun(
            run_id=new_id(),
            scope="full" if full else "incremental",
            started_at=started,
            finished_at=finished,
            watermark=watermark,
            ok=report.ok,
            findings=_findings_json(report),
        )
        async with self.db.transaction() as tx:
            if job is not None:
                if not await complete_leased(tx, job, "applied", now=finished):
                    raise _TakenOver()
                # The slot after now, not after the job's: a node that was down for an hour
                # runs one catch-up audit (the watermark covers the gap), not six.
                following = slot_of(finished) + AUDIT_EVERY
                await schedule(tx, AUDIT_JOB, _slot_ref(following), following, now=finished)
            tx.session.add(row)
            if operator_id is not None:
                await record_operator_action(
                    tx, self.clock, operator_id, "wallet.audit.run", f"audit_run:{row.run_id}"
                )
        view = _view(row)
        self._publish(view)
        return view

    async def _window(self, until: dt.datetime) -> AuditWindow:
        """From the previous run's watermark to ``until``, with its findings' subjects."""
        async with self.db.read() as session:
            last = await session.scalar(
                select(WalletAuditRun)
                .order_by(WalletAuditRun.started_at.desc(), WalletAuditRun.run_id.desc())
                .limit(1)
            )
        if last is None:
            return AuditWindow(None, until)
        items = last.findings.get("items", [])
        since = last.watermark
        return AuditWindow(
            since,
            until if since is None else max(since, until),  # a clock stepped back: empty
            entries=frozenset(i["subject"] for i in items if i["check"] in ENTRY_CHECKS),
            accounts=frozenset(i["subject"] for i in items if i["check"] in ACCOUNT_CHECKS),
        )

    def _publish(self, view: AuditRunView) -> None:
        if self.on_findings is not None:
            self.on_findings(view.finding_count)

    async def latest_audit_run(self) -> AuditRunView | None:
        """The most recent run (for the admin console's banner), or None before the first."""
        runs = await self.list_audit_runs(1)
        return runs[0] if runs else None

    async def get_audit_run(self, run_id: str) -> AuditRunView | None:
        """One recorded run with its findings, or None."""
        if len(run_id) > 36:
            return None
        async with self.db.read() as session:
            row = await session.get(WalletAuditRun, run_id)
            return _view(row) if row is not None else None

    async def list_audit_runs(self, limit: int = 50) -> list[AuditRunView]:
        """Recorded runs, newest first."""
        async with self.db.read() as session:
            rows = await session.scalars(
                select(WalletAuditRun)
                .order_by(WalletAuditRun.started_at.desc(), WalletAuditRun.run_id.desc())
                .limit(max(1, min(limit, 500)))
            )
            return [_view(row) for row in rows]


def _findings_json(report: AuditReport) -> dict[str, Any]:
    items = [
        {"check": f.check, "subject": f.subject, **f.detail}
        for f in report.findings[:MAX_STORED_FINDINGS]
    ]
    checked = {"accounts": report.accounts, "entries": report.entries, "postings": report.postings}
    return {"count": len(report.findings), "items": items, "checked": checked}


def _view(row: WalletAuditRun) -> AuditRunView:
    return AuditRunView(
        run_id=row.run_id,
        scope=row.scope,
        started_at=row.started_at,
        finished_at=row.finished_at,
        watermark=row.watermark,
        ok=row.ok,
        finding_count=int(row.findings.get("count", 0)),
        findings=list(row.findings.get("items", [])),
        checked=dict(row.findings.get("checked", {})),
    )
