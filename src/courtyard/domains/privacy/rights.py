"""The user-rights service one server node holds: erasure, complaints, notices, the retention
purge and operators' hold management, with their due jobs registered (docs/user-rights.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from courtyard.core.clock import Clock
from courtyard.db import Database
from courtyard.domains.accounts import AccountsService, Identity
from courtyard.domains.jobs import DueJobs
from courtyard.domains.media import BlobStore
from courtyard.domains.messaging import Timeline
from courtyard.domains.privacy.complaints import Complaints
from courtyard.domains.privacy.daily import schedule_today
from courtyard.domains.privacy.erasure import ERASE_JOB, RECHECK_JOB, Erasures
from courtyard.domains.privacy.erasure_steps import ErasureTools
from courtyard.domains.privacy.hold_desk import HoldDesk
from courtyard.domains.privacy.models import UserNotice
from courtyard.domains.privacy.notices import get_user_notices
from courtyard.domains.privacy.retention import PURGE_JOB, Retention


class UserRights:
    """Routes, the console and the CLI call its parts; ``daily_jobs`` off (tests) leaves the
    daily purge and re-check unscheduled, as ``wallet_oversight_jobs`` does for the wallet."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        accounts: AccountsService,
        timeline: Timeline,
        blobs: BlobStore,
        jobs: DueJobs,
        login_window: dt.timedelta,
        daily_jobs: bool = True,
    ) -> None:
        self.db = db
        self.clock = clock
        self.erasures = Erasures(db, clock, accounts, ErasureTools(timeline, blobs))
        self.complaints = Complaints(db, clock)
        self.retention = Retention(db, clock, login_window)
        self.holds = HoldDesk(db, clock)
        self.daily_jobs = daily_jobs
        jobs.register_local(ERASE_JOB, self.erasures.run_erase)
        jobs.register_external(RECHECK_JOB, self.erasures.run_recheck_job)
        jobs.register_external(PURGE_JOB, self.retention.run_job)

    async def start(self) -> None:
        """Schedule today's purge and re-check unless they exist (every node does this)."""
        if self.daily_jobs:
            await schedule_today(self.db, self.clock, PURGE_JOB)
            await schedule_today(self.db, self.clock, RECHECK_JOB)

    async def notices(self, identity: Identity, limit: int = 100) -> list[dict[str, Any]]:
        """The caller's notices, newest first, as the API sends them."""
        async with self.db.read() as session:
            rows = await get_user_notices(session, identity.user_id, limit)
        return [_notice(row) for row in rows]


def _notice(row: UserNotice) -> dict[str, Any]:
    return {
        "notice_id": row.notice_id,
        "kind": row.kind,
        "title": row.title,
        "body": row.body,
        "created_at": row.created_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
    }
