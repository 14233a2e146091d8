"""Reading the ``operator_actions`` trail: the latest actions, by operator or target."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select

from courtyard.db import Database
from courtyard.domains.accounts.models import Operator, OperatorAction

MAX_ACTIONS = 500


@dataclass(frozen=True, slots=True)
class OperatorActionRecord:
    """One row of the trail; ``operator`` is the operator's username, or the recorded id when
    no operator has it (``cli:<login>`` for actions taken on the command line)."""

    action_id: str
    operator_id: str
    operator: str
    action: str
    target: str
    note: str | None
    at: dt.datetime


class OperatorActionsLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_latest(
        self, *, operator: str | None = None, target: str | None = None, limit: int = 100
    ) -> list[OperatorActionRecord]:
        """The newest actions first. ``operator`` is a username or a recorded operator id;
        ``target`` matches a whole target (``account:<id>``) or, ending in ``:``, a kind of
        target (``account:``)."""
        query = (
            select(OperatorAction, Operator.username)
            .outerjoin(Operator, Operator.operator_id == OperatorAction.operator_id)
            .order_by(OperatorAction.at.desc(), OperatorAction.action_id.desc())
            .limit(max(1, min(limit, MAX_ACTIONS)))
        )
        if operator:
            named = select(Operator.operator_id).where(Operator.username == operator.lower())
            query = query.where(
                or_(OperatorAction.operator_id == operator, OperatorAction.operator_id.in_(named))
            )
        if target:
            query = query.where(
                OperatorAction.target.startswith(target, autoescape=True)
                if target.endswith(":")
                else OperatorAction.target == target
            )
        async with self.db.read() as session:
            rows = (await session.execute(query)).all()
        return [
            OperatorActionRecord(
                action_id=action.action_id,
                operator_id=action.operator_id,
                operator=username or action.operator_id,
                action=action.action,
                target=action.target,
                note=action.note,
                at=action.at,
            )
            for action, username in rows
        ]
