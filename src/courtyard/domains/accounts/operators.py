"""Operators: the people who run the server. Created from the command line only."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from courtyard.core.clock import Clock
from courtyard.core.errors import InvalidInput
from courtyard.core.ids import new_id
from courtyard.db import Database, Tx
from courtyard.domains.accounts.errors import OperatorExists
from courtyard.domains.accounts.models import Operator
from courtyard.domains.accounts.passwords import Hasher, check_password_rules
from courtyard.domains.accounts.validation import check_username
from courtyard.domains.audit import append_audit_entry

OPERATOR_ROLES = ("admin", "finance", "legal_reviewer", "legal_approver", "support")
USER_TARGET = "user:"
MAX_USER_ID = 36


class OperatorsService:
    def __init__(self, db: Database, clock: Clock, hasher: Hasher) -> None:
        self.db = db
        self.clock = clock
        self.hasher = hasher

    async def do_create_operator(self, username: str, password: str, roles: list[str]) -> Operator:
        """Create an operator with the given roles; the password follows the user rules."""
        username = check_username(username)
        password = check_password_rules(password, username=username)
        unknown = sorted(set(roles) - set(OPERATOR_ROLES))
        if unknown or not roles:
            raise InvalidInput(
                f"roles must be a non-empty subset of {', '.join(OPERATOR_ROLES)}", unknown=unknown
            )
        operator = Operator(
            operator_id=new_id(),
            username=username,
            password_hash=await self.hasher.hash(password),
            roles=sorted(set(roles)),
            created_at=self.clock.now(),
        )
        try:
            async with self.db.transaction() as tx:
                tx.session.add(operator)
        except IntegrityError:
            raise OperatorExists() from None
        return operator

    async def get_operators(self) -> list[Operator]:
        async with self.db.read() as session:
            return list(await session.scalars(select(Operator).order_by(Operator.created_at)))


def operator_actor(operator_id: str) -> str:
    """The audit log's actor for an operator id: ``operator:<id>``, or the id itself for
    commands run on the host (``cli``, ``cli:<login>``)."""
    return operator_id if operator_id.startswith("cli") else f"operator:{operator_id}"


def subject_of(target: str) -> str | None:
    """The user a ``user:<id>`` target names, else None."""
    if target.startswith(USER_TARGET):
        user_id = target.removeprefix(USER_TARGET)
        return user_id if 0 < len(user_id) <= MAX_USER_ID else None
    return None


async def record_operator_action(
    tx: Tx,
    clock: Clock,
    operator_id: str,
    action: str,
    target: str,
    note: str | None = None,
    *,
    subject_user_id: str | None = None,
) -> None:
    """Append the action to the audit log in the caller's transaction, so the action and its
    record commit together (docs/audit-log.md). ``action`` is a dotted verb
    (``wallet.account.freeze``, ``wallet.user.view``); ``target`` names what it touched
    (``user:<id>``, ``account:<id>``, ``reconciliation_item:<run>/<no>``); ``subject_user_id``
    is the user whose data it concerns (default: the user a ``user:<id>`` target names), which
    puts the action in that user's access log."""
    await append_audit_entry(
        tx,
        clock,
        actor=operator_actor(operator_id),
        action=action,
        target=target,
        subject_user_id=subject_user_id or subject_of(target),
        note=note,
    )
