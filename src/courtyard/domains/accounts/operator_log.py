"""Reading the audit log as operators see it: the latest entries, filtered by who acted, what
they did, on what and about whom, with operators named by their usernames."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from courtyard.core.clock import Clock
from courtyard.db import Database
from courtyard.domains.accounts.models import Operator
from courtyard.domains.accounts.operators import operator_actor, record_operator_action
from courtyard.domains.accounts.service import get_user_id_by_username
from courtyard.domains.audit import AuditEntryView, EntryFilter, get_entries, read_entries

MAX_ACTIONS = 500
OPERATOR_ACTOR = "operator:"


@dataclass(frozen=True, slots=True)
class OperatorActionRecord:
    """One audit entry, by ``actor``. ``operator_id`` is the recorded operator id (``cli`` for
    commands run on the host) or, for other actors, the actor (``system``, ``user:<id>``);
    ``operator`` is the operator's username when one has that id, else ``operator_id``."""

    seq: int
    action_id: str
    actor: str
    operator_id: str
    operator: str
    action: str
    target: str
    subject_user_id: str | None
    note: str | None
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class ActionFilter:
    """The console's and CLI's filters, as typed: ``operator`` a username, a recorded
    operator id or an actor; ``action`` exact or a family ending in ``.``; ``target`` exact
    or a kind ending in ``:``; ``user`` a username or user id the entries concern."""

    operator: str | None = None
    action: str | None = None
    target: str | None = None
    user: str | None = None


class OperatorActionsLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_latest(
        self,
        *,
        operator: str | None = None,
        target: str | None = None,
        action: str | None = None,
        user: str | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> list[OperatorActionRecord]:
        """The newest entries first (below position ``before`` if given)."""
        wanted = ActionFilter(operator, action, target, user)
        filters = await self._entry_filter(wanted)
        limit = max(1, min(limit, MAX_ACTIONS))
        entries = await get_entries(self.db, filters, before=before, limit=limit)
        names = await self._usernames(entries)
        return [_record(entry, names) for entry in entries]

    async def access_latest(
        self,
        clock: Clock,
        operator_id: str,
        wanted: ActionFilter,
        *,
        before: int | None = None,
        limit: int = 100,
    ) -> list[OperatorActionRecord]:
        """``get_latest`` for an operator; reading the entries about one user is a view of
        that user's data, so it is recorded (``audit.log.view``) in the same transaction."""
        filters = await self._entry_filter(wanted)
        limit = max(1, min(limit, MAX_ACTIONS))
        async with self.db.transaction() as tx:
            entries = await read_entries(tx.session, filters, before=before, limit=limit)
            if filters.subject_user_id:
                subject = filters.subject_user_id
                await record_operator_action(
                    tx, clock, operator_id, "audit.log.view", f"user:{subject}"
                )
        names = await self._usernames(entries)
        return [_record(entry, names) for entry in entries]

    async def _entry_filter(self, wanted: ActionFilter) -> EntryFilter:
        actors: tuple[str, ...] = ()
        subject: str | None = None
        async with self.db.read() as session:
            if wanted.operator:
                named = await session.scalars(
                    select(Operator.operator_id).where(Operator.username == wanted.operator.lower())
                )
                ids = {wanted.operator, *named}
                actors = (wanted.operator, *sorted(operator_actor(i) for i in ids))
            if wanted.user:
                subject = await get_user_id_by_username(session, wanted.user) or wanted.user
        return EntryFilter(
            actors=actors,
            action=wanted.action or None,
            target=wanted.target or None,
            subject_user_id=subject,
        )

    async def _usernames(self, entries: list[AuditEntryView]) -> dict[str, str]:
        ids = {
            e.actor.removeprefix(OPERATOR_ACTOR)
            for e in entries
            if e.actor.startswith(OPERATOR_ACTOR)
        }
        if not ids:
            return {}
        async with self.db.read() as session:
            rows = await session.execute(
                select(Operator.operator_id, Operator.username).where(Operator.operator_id.in_(ids))
            )
            return {str(operator_id): str(username) for operator_id, username in rows.all()}


def _record(entry: AuditEntryView, names: dict[str, str]) -> OperatorActionRecord:
    operator_id = entry.actor.removeprefix(OPERATOR_ACTOR)
    return OperatorActionRecord(
        seq=entry.seq,
        action_id=entry.entry_id,
        actor=entry.actor,
        operator_id=operator_id,
        operator=names.get(operator_id, operator_id),
        action=entry.action,
        target=entry.target,
        subject_user_id=entry.subject_user_id,
        note=entry.note,
        at=entry.at,
    )
