"""Operators: the people who run the server. Created from the command line only."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from courtyard.core.clock import Clock
from courtyard.core.errors import InvalidInput
from courtyard.core.ids import new_id
from courtyard.db import Database
from courtyard.domains.accounts.errors import OperatorExists
from courtyard.domains.accounts.models import Operator
from courtyard.domains.accounts.passwords import Hasher, check_password_rules
from courtyard.domains.accounts.validation import check_username

OPERATOR_ROLES = ("admin", "legal_reviewer", "legal_approver", "support")


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
