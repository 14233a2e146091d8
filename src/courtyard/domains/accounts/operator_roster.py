"""The operators and their roles: the first operator (created from the host's shell before
any exists), operators an admin adds, the roster, and role changes. Each change commits with
its audit-log entry, which the console's operator actions page shows (docs/admin-console.md,
"Roles")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from courtyard.core.clock import Clock
from courtyard.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from courtyard.core.ids import new_id
from courtyard.db import Database, Tx
from courtyard.domains.accounts.errors import InvalidUsername, OperatorExists, RoleRequired
from courtyard.domains.accounts.models import Operator
from courtyard.domains.accounts.operator_sessions import SignedInOperator
from courtyard.domains.accounts.operators import OPERATOR_ROLES
from courtyard.domains.accounts.passwords import Hasher, check_password_rules
from courtyard.domains.accounts.validation import check_username
from courtyard.domains.audit import append_audit_entry

MANAGING_ROLE = "admin"  # who may add operators and change roles


class OperatorNotFound(NotFound):
    code = "operator_not_found"
    title = "No operator with this username"


class OperatorRequired(PermissionDenied):
    code = "operator_required"
    title = "Operators exist: name yourself as an admin operator"


class LastAdmin(Conflict):
    code = "last_admin"
    title = "At least one operator must keep the admin role"


@dataclass(frozen=True, slots=True)
class OperatorEntry:
    """One operator as the roster shows them (never their password hash)."""

    operator_id: str
    username: str
    roles: tuple[str, ...]
    created_at: dt.datetime


class OperatorRoster:
    """Adds operators and changes their roles; only an admin may, except for the very first
    operator, who must be an admin so that someone can add the rest."""

    def __init__(self, db: Database, clock: Clock, hasher: Hasher) -> None:
        self.db = db
        self.clock = clock
        self.hasher = hasher

    async def get_roster(self) -> list[OperatorEntry]:
        """Every operator, oldest first."""
        async with self.db.read() as session:
            rows = await session.scalars(select(Operator).order_by(Operator.created_at))
            return [_entry(row) for row in rows]

    async def get_operator_count(self) -> int:
        async with self.db.read() as session:
            return int(await session.scalar(select(func.count()).select_from(Operator)) or 0)

    async def do_add_operator(
        self, actor: SignedInOperator | None, username: str, password: str, roles: list[str]
    ) -> OperatorEntry:
        """Create an operator. With ``actor`` (who must hold admin) at any time; without,
        only while no operator exists, and then the new operator must hold admin."""
        if actor is not None:
            _check_manager(actor)
        username = check_username(username)
        password = check_password_rules(password, username=username)
        wanted = check_roles(roles)
        if actor is None and MANAGING_ROLE not in wanted:
            raise InvalidInput(
                "The first operator must hold the admin role, or no one could add the others."
            )
        operator = Operator(
            operator_id=new_id(), username=username, password_hash=await self.hasher.hash(password),
            roles=list(wanted), created_at=self.clock.now(),
        )  # fmt: skip
        detail: dict[str, Any] = {"username": username, "roles": list(wanted)}
        target = f"operator:{operator.operator_id}"
        try:
            async with self.db.transaction() as tx:
                if actor is None:
                    await self._bootstrap(tx, target, detail)
                else:
                    await self._record(tx, actor, "operators.create", target, detail)
                tx.session.add(operator)
                await tx.session.flush()
        except IntegrityError:
            raise OperatorExists() from None
        return _entry(operator)

    async def do_set_roles(
        self, actor: SignedInOperator, username: str, roles: list[str]
    ) -> OperatorEntry:
        """Replace an operator's roles (they apply at the operator's next page or command);
        refused when it would leave no admin."""
        _check_manager(actor)
        wanted = check_roles(roles)
        async with self.db.transaction() as tx:
            # Every operator row, locked in one order: two admins demoting each other at once
            # queue here instead of both seeing the other still an admin.
            everyone = list(
                await tx.session.scalars(
                    select(Operator).order_by(Operator.operator_id).with_for_update()
                )
            )
            operator = _named(everyone, username)
            before = tuple(operator.roles)
            admins = sum(MANAGING_ROLE in other.roles for other in everyone)
            if MANAGING_ROLE in before and MANAGING_ROLE not in wanted and admins <= 1:
                raise LastAdmin()
            operator.roles = list(wanted)
            detail: dict[str, Any] = {"before": list(before), "after": list(wanted)}
            await self._record(
                tx, actor, "operators.set_roles", f"operator:{operator.operator_id}", detail
            )
        return _entry(operator)

    async def _bootstrap(self, tx: Tx, target: str, detail: dict[str, Any]) -> None:
        # The audit entry comes first: appending locks the log's head row until commit, so two
        # hosts bootstrapping at once queue here, and the second then sees the first operator.
        await append_audit_entry(
            tx, self.clock, actor="system", action="operators.bootstrap", target=target,
            note="the first operator, created from the host's shell", detail=detail,
        )  # fmt: skip
        if await tx.session.scalar(select(func.count()).select_from(Operator)):
            raise OperatorRequired()

    async def _record(
        self, tx: Tx, actor: SignedInOperator, action: str, target: str, detail: dict[str, Any]
    ) -> None:
        # As record_operator_action writes operator actions, plus the roles in ``detail``.
        await append_audit_entry(
            tx, self.clock, actor=f"operator:{actor.operator_id}", action=action,
            target=target, detail=detail,
        )  # fmt: skip


def check_roles(roles: list[str]) -> tuple[str, ...]:
    """The roles, sorted and without repeats; raises for none or an unknown one."""
    unknown = sorted(set(roles) - set(OPERATOR_ROLES))
    if unknown or not roles:
        raise InvalidInput(
            f"roles must be a non-empty subset of {', '.join(OPERATOR_ROLES)}", unknown=unknown
        )
    return tuple(sorted(set(roles)))


def _check_manager(actor: SignedInOperator) -> None:
    if MANAGING_ROLE not in actor.roles:
        raise RoleRequired("only an admin may add operators or change roles", roles=["admin"])


def _named(operators: list[Operator], username: str) -> Operator:
    try:
        canonical = check_username(username)
    except InvalidUsername:
        raise OperatorNotFound() from None
    for operator in operators:
        if operator.username == canonical:
            return operator
    raise OperatorNotFound()


def _entry(operator: Operator) -> OperatorEntry:
    return OperatorEntry(
        operator.operator_id, operator.username, tuple(operator.roles), operator.created_at
    )
