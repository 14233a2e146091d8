"""The retention purge: delete what the data map keeps for a limited time, skipping the rows
of users under an active legal hold (docs/user-rights.md, "Retention purge"). It runs as the
daily job ``privacy.purge:<YYYY-MM-DD>`` and from ``courtyard admin privacy purge``.

The rules name other domains' tables through the shared metadata rather than their models:
this is the one place that deletes across domains by a declared retention, and a test checks
it against the data map (every table with a time-bound retention has a rule here)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Table, and_, delete, exists, func, or_, select

from courtyard.core.clock import Clock
from courtyard.db import Base, Database, Tx
from courtyard.domains.accounts import ABSOLUTE_TIMEOUT, IDLE_TIMEOUT, account_key
from courtyard.domains.audit import append_audit_entry
from courtyard.domains.jobs import Job, Outcome, complete_leased
from courtyard.domains.privacy.daily import schedule_tomorrow
from courtyard.domains.privacy.models import LegalHold

PURGE_JOB = "privacy.purge"
DONE_JOBS_KEPT = dt.timedelta(days=90)  # the data map's "done+90d"
THIRTY_DAYS = dt.timedelta(days=30)  # the data map's "30d"


@dataclass(frozen=True, slots=True)
class Scope:
    """What a rule needs: now, the throttle window, and who is held (their ids and their
    login-throttle keys)."""

    now: dt.datetime
    login_window: dt.timedelta
    held_ids: frozenset[str] = frozenset()
    held_keys: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Rule:
    """Rows of ``table`` that ``expired`` selects; ``user_columns`` hold a user's id (rows of
    held users are skipped by them); ``retention`` is the data map's word for the table."""

    name: str
    table: str
    retention: str
    what: str
    expired: Callable[[Table, Scope], ColumnElement[bool]]
    user_columns: tuple[str, ...] = ()

    def where(self, scope: Scope) -> ColumnElement[bool]:
        t = Base.metadata.tables[self.table]
        condition = self.expired(t, scope)
        if scope.held_ids:
            for column in self.user_columns:
                condition = and_(condition, t.c[column].not_in(sorted(scope.held_ids)))
        return condition


def _delivered(t: Table, _scope: Scope) -> ColumnElement[bool]:
    devices = Base.metadata.tables["devices"]
    return exists().where(
        devices.c.user_id == t.c.user_id,
        devices.c.device_id == t.c.device_id,
        devices.c.acked_position >= t.c.seq,
    )


def _login_failures(t: Table, scope: Scope) -> ColumnElement[bool]:
    old = t.c.failed_at < scope.now - scope.login_window
    return and_(old, t.c.scope_key.not_in(sorted(scope.held_keys))) if scope.held_keys else old


RULES: tuple[Rule, ...] = (
    Rule("login_failures", "login_failures", "throttle_window",
         "failed logins older than the throttle window", _login_failures),
    Rule("operator_sessions", "operator_sessions", "30d",
         "console sessions past 30 idle minutes or 12 hours",
         lambda t, s: or_(t.c.last_seen_at <= s.now - IDLE_TIMEOUT,
                          t.c.created_at <= s.now - ABSOLUTE_TIMEOUT)),
    Rule("due_jobs", "due_jobs", "done+90d", "due jobs done more than 90 days ago",
         lambda t, s: and_(t.c.state == "done", t.c.done_at < s.now - DONE_JOBS_KEPT),
         ("ref_id",)),
    Rule("to_device_delivered", "to_device_inbox", "until_delivered",
         "to-device messages at or below their device's acknowledged position", _delivered,
         ("user_id", "sender_user_id")),
    Rule("to_device_txns", "to_device_txns", "30d", "to-device transaction ids over 30 days old",
         lambda t, s: t.c.created_at < s.now - THIRTY_DAYS, ("user_id",)),
    Rule("wallet_idempotency", "wallet_idempotency", "30d", "wallet answers past their expiry",
         lambda t, s: t.c.expires_at < s.now, ("user_id",)),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """Rows deleted (or, in a dry run, that would be) per rule, and how many users' rows a
    legal hold kept."""

    counts: dict[str, int]
    held_users: int
    dry_run: bool
    at: dt.datetime

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class Retention:
    """Runs the purge; ``login_window`` is the login throttle's window."""

    def __init__(self, db: Database, clock: Clock, login_window: dt.timedelta) -> None:
        self.db = db
        self.clock = clock
        self.login_window = login_window

    async def do_purge(self, *, dry_run: bool = False, actor: str = "system") -> PurgeReport:
        """Purge now (each rule in a transaction of its own), then record the counts in the
        audit log as ``actor``; a dry run only counts, and records nothing."""
        report = await self._purge(dry_run)
        if not dry_run:
            async with self.db.transaction() as tx:
                await self._record(tx, report, actor)
        return report

    async def run_job(self, job: Job) -> Outcome:
        """The daily ``privacy.purge`` job: purge, then record it, complete the job and
        schedule tomorrow's in one transaction."""
        report = await self._purge(dry_run=False)
        async with self.db.transaction() as tx:
            if not await complete_leased(tx, job, "applied", now=self.clock.now()):
                return "skipped"  # another node's run of this day recorded it
            await self._record(tx, report, "system")
            await schedule_tomorrow(tx, PURGE_JOB, self.clock.now())
        return "applied"

    async def _purge(self, dry_run: bool) -> PurgeReport:
        scope = await self._scope()
        counts: dict[str, int] = {}
        for rule in RULES:
            table = Base.metadata.tables[rule.table]
            if dry_run:
                async with self.db.read() as session:
                    found = await session.scalar(
                        select(func.count()).select_from(table).where(rule.where(scope))
                    )
                counts[rule.name] = int(found or 0)
                continue
            async with self.db.transaction() as tx:
                result = await tx.session.execute(delete(table).where(rule.where(scope)))
            counts[rule.name] = int(getattr(result, "rowcount", 0) or 0)
        return PurgeReport(counts, len(scope.held_ids), dry_run, scope.now)

    async def _scope(self) -> Scope:
        users = Base.metadata.tables["users"]
        async with self.db.read() as session:
            held = set(
                await session.scalars(
                    select(LegalHold.user_id).where(LegalHold.released_at.is_(None)).distinct()
                )
            )
            names: list[str] = []
            if held:
                found = await session.scalars(
                    select(users.c.username).where(users.c.user_id.in_(sorted(held)))
                )
                names = list(found)
            keys = frozenset(account_key(name) for name in names)
        return Scope(self.clock.now(), self.login_window, frozenset(held), keys)

    async def _record(self, tx: Tx, report: PurgeReport, actor: str) -> None:
        await append_audit_entry(
            tx, self.clock, actor=actor, action="privacy.retention.purge",
            target=f"retention:{report.at.astimezone(dt.UTC).date().isoformat()}",
            detail={"deleted": report.counts, "held_users_skipped": report.held_users},
        )  # fmt: skip
