"""Complaints: a user writes about how their data is handled; the operator must answer by a
deadline set by the user's policy region (docs/user-rights.md, "Complaints"). Answering
leaves the user a notice and an audit-log entry in the same transaction."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select

from courtyard.core.clock import Clock
from courtyard.core.errors import InvalidInput
from courtyard.core.ids import is_id, new_id
from courtyard.core.regions import CN_POLICY, EU_POLICY, policy_region
from courtyard.db import Database, Tx
from courtyard.domains.accounts import Identity, get_profiles, get_user_region
from courtyard.domains.audit import append_audit_entry
from courtyard.domains.privacy.models import Complaint
from courtyard.domains.privacy.notices import add_user_notice
from courtyard.domains.privacy.rights_errors import (
    AnswerRequired,
    ComplaintAnswered,
    ComplaintNotFound,
    TooManyOpenComplaints,
)

MAX_SUBJECT, MAX_BODY, MAX_ANSWER = 200, 10_000, 10_000
MAX_OPEN = 10
# Days to answer per policy region; the reasons are in docs/user-rights.md.
DEADLINE_DAYS = {CN_POLICY: 15, EU_POLICY: 30}
DEFAULT_DEADLINE_DAYS = 30


def complaint_due(region: str | None, created: dt.datetime) -> dt.datetime:
    """When a complaint from a user registered in ``region`` must be answered: 15 days for
    ``CN``, 30 for the rest; for ``EU`` never later than one calendar month (GDPR Art. 12(3))."""
    policy = policy_region(region or "")
    due = created + dt.timedelta(days=DEADLINE_DAYS.get(policy, DEFAULT_DEADLINE_DAYS))
    return min(due, _one_month_after(created)) if policy == EU_POLICY else due


def _one_month_after(moment: dt.datetime) -> dt.datetime:
    year, month = divmod(moment.month, 12)
    year, month = moment.year + year, month + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@dataclass(frozen=True, slots=True)
class ComplaintView:
    """A complaint with its deadline; ``username`` only in operators' lists."""

    complaint_id: str
    user_id: str
    subject: str
    body: str
    status: str
    created_at: dt.datetime
    due_at: dt.datetime
    answer: str | None
    answered_at: dt.datetime | None
    answered_by: str | None
    username: str | None = None

    def overdue(self, now: dt.datetime) -> bool:
        return self.status == "open" and now > self.due_at

    def to_wire(self) -> dict[str, Any]:
        """The user's view (who answered stays with the operator)."""
        return {
            "complaint_id": self.complaint_id,
            "subject": self.subject,
            "body": self.body,
            "status": self.status,
            "created_at": _iso(self.created_at),
            "due_at": _iso(self.due_at),
            "answer": self.answer,
            "answered_at": _iso(self.answered_at),
        }


class Complaints:
    """Filing and reading one's complaints; listing and answering them as an operator."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def do_file(self, identity: Identity, subject: str, body: str) -> ComplaintView:
        """File a complaint; its deadline follows the user's policy region."""
        subject, body = _text(subject, MAX_SUBJECT, "subject"), _text(body, MAX_BODY, "body")
        now = self.clock.now()
        async with self.db.transaction() as tx:
            open_count = await tx.session.scalar(
                select(func.count()).where(
                    Complaint.user_id == identity.user_id, Complaint.status == "open"
                )
            )
            if (open_count or 0) >= MAX_OPEN:
                raise TooManyOpenComplaints()
            region = await get_user_region(tx.session, identity.user_id)
            row = Complaint(
                complaint_id=new_id(), user_id=identity.user_id, subject=subject, body=body,
                created_at=now, due_at=complaint_due(region, now), status="open",
            )  # fmt: skip
            tx.session.add(row)
        return _view(row)

    async def list_mine(self, identity: Identity, limit: int = 100) -> list[ComplaintView]:
        """The caller's complaints, newest first."""
        async with self.db.read() as session:
            rows = await session.scalars(
                select(Complaint)
                .where(Complaint.user_id == identity.user_id)
                .order_by(Complaint.created_at.desc(), Complaint.complaint_id.desc())
                .limit(limit)
            )
            return [_view(row) for row in rows]

    async def access_mine(self, identity: Identity, complaint_id: str) -> ComplaintView:
        """One of the caller's complaints; another user's is simply not found."""
        async with self.db.read() as session:
            row = await _get(session, complaint_id)
        if row is None or row.user_id != identity.user_id:
            raise ComplaintNotFound()
        return _view(row)

    async def list_for_operators(
        self, *, overdue_only: bool = False, limit: int = 200
    ) -> list[ComplaintView]:
        """Open complaints first, soonest (or longest overdue) deadline first, then answered
        ones, newest first; ``overdue_only`` keeps only open ones past their deadline."""
        now = self.clock.now()
        query = select(Complaint)
        if overdue_only:
            query = query.where(Complaint.status == "open", Complaint.due_at < now)
        answered_last = case((Complaint.status == "open", 0), else_=1)
        query = query.order_by(
            answered_last,
            case((Complaint.status == "open", Complaint.due_at), else_=None),
            Complaint.created_at.desc(),
            Complaint.complaint_id,
        ).limit(limit)
        async with self.db.read() as session:
            rows = list(await session.scalars(query))
            names = await get_profiles(session, {row.user_id for row in rows})
        return [_view(row, (names.get(row.user_id) or (None,))[0]) for row in rows]

    async def access_complaint(self, complaint_id: str, *, actor: str) -> ComplaintView:
        """One complaint for an operator (it shows the user's text), recorded as
        ``privacy.complaint.view`` in the same transaction."""
        async with self.db.transaction() as tx:
            row = await _get(tx.session, complaint_id)
            if row is None:
                raise ComplaintNotFound()
            await append_audit_entry(
                tx, self.clock, actor=actor, action="privacy.complaint.view",
                target=f"complaint:{complaint_id}", subject_user_id=row.user_id,
            )  # fmt: skip
            names = await get_profiles(tx.session, {row.user_id})
        return _view(row, (names.get(row.user_id) or (None,))[0])

    async def do_answer(
        self, complaint_id: str, text: str, *, actor: str, operator_id: str
    ) -> ComplaintView:
        """Answer an open complaint once: the answer, a notice to the user and an audit entry
        (``privacy.complaint.answer``), all in one transaction."""
        text = text.strip()
        if not text:
            raise AnswerRequired()
        if len(text) > MAX_ANSWER:
            raise InvalidInput(f"An answer is at most {MAX_ANSWER} characters.")
        now = self.clock.now()
        async with self.db.transaction() as tx:
            row = await _get(tx.session, complaint_id, lock=True)
            if row is None:
                raise ComplaintNotFound()
            if row.status != "open":
                raise ComplaintAnswered()
            row.status, row.answer, row.answered_by, row.answered_at = (
                "answered", text, operator_id[:36], now,
            )  # fmt: skip
            await self._tell(tx, row, actor, now)
        return _view(row)

    async def _tell(self, tx: Tx, row: Complaint, actor: str, now: dt.datetime) -> None:
        await add_user_notice(
            tx, self.clock, user_id=row.user_id, kind="complaint_answered",
            title=f"Your complaint was answered: {row.subject}", body=row.answer or "",
        )  # fmt: skip
        await append_audit_entry(
            tx, self.clock, actor=actor, action="privacy.complaint.answer",
            target=f"complaint:{row.complaint_id}", subject_user_id=row.user_id,
            detail={"due_at": _iso(row.due_at), "late": now > row.due_at},
        )  # fmt: skip


async def _get(session: Any, complaint_id: str, *, lock: bool = False) -> Complaint | None:
    if not is_id(complaint_id):
        return None
    found: Complaint | None = await session.get(Complaint, complaint_id, with_for_update=lock)
    return found


def _text(value: str, limit: int, field: str) -> str:
    value = value.strip()
    if not value or len(value) > limit:
        raise InvalidInput(f"The {field} must be 1 to {limit} characters.", field=field)
    return value


def _view(row: Complaint, username: str | None = None) -> ComplaintView:
    return ComplaintView(
        row.complaint_id, row.user_id, row.subject, row.body, row.status, row.created_at,
        row.due_at, row.answer, row.answered_at, row.answered_by, username,
    )  # fmt: skip


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
