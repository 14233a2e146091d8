"""What operators see and do in the wallet (docs/wallet.md, "Admin console pages"): one
object the console holds, with the ledger and flow browsers, user summaries, freezing, and
the state of the latest ledger audit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from courtyard.core.clock import Clock
from courtyard.db import Database
from courtyard.domains.wallet.flow_browser import FlowBrowser
from courtyard.domains.wallet.freezing import Freezing
from courtyard.domains.wallet.ledger_browser import LedgerBrowser
from courtyard.domains.wallet.oversight_models import WalletAuditRun
from courtyard.domains.wallet.user_summary import UserSummaries


@dataclass(frozen=True, slots=True)
class AuditRunStatus:
    """The outcome of one finished audit run (its findings are on the audit pages)."""

    run_id: str
    scope: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    ok: bool


class WalletOversight:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.ledger = LedgerBrowser(db, clock)
        self.flows = FlowBrowser(db, clock)
        self.users = UserSummaries(db, clock)
        self.freezing = Freezing(db, clock)

    async def get_latest_audit_run(self) -> AuditRunStatus | None:
        """The newest audit run that has finished (a run under way has no verdict yet, and
        must not hide the last one that failed), or None before the first."""
        async with self.db.read() as session:
            run = await session.scalar(
                select(WalletAuditRun)
                .where(WalletAuditRun.ok.is_not(None))
                .order_by(WalletAuditRun.started_at.desc(), WalletAuditRun.run_id.desc())
                .limit(1)
            )
        if run is None or run.ok is None:
            return None
        return AuditRunStatus(run.run_id, run.scope, run.started_at, run.finished_at, run.ok)
