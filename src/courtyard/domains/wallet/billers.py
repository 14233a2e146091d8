"""Billers: payees an operator registers (a utility, a phone operator), each with one cached
ledger account in its currency that bill payments credit (docs/wallet.md, "Bills").

A biller says which references it issues (a regular expression a payer's reference must fully
match) and the smallest and largest bill it takes. Billers are never deleted, only disabled,
so the bills already paid keep their payee.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from courtyard.core.clock import Clock
from courtyard.core.ids import is_id, new_id
from courtyard.core.money import Money
from courtyard.db import Database
from courtyard.domains.accounts import record_operator_action
from courtyard.domains.wallet.accounts import AccountDirectory
from courtyard.domains.wallet.commerce_models import BILLER_CATEGORIES, Biller
from courtyard.domains.wallet.context import iso
from courtyard.domains.wallet.errors import BillerNotFound, InvalidBiller

MAX_NAME = 80
MAX_PATTERN = 200
MAX_HINT = 120


@dataclass(frozen=True, slots=True)
class BillerSpec:
    """What an operator gives to register a biller; amounts are wire decimal strings."""

    name: str
    category: str
    currency: str
    reference_pattern: str
    reference_hint: str
    min_amount: str
    max_amount: str


def biller_wire(row: Biller) -> dict[str, Any]:
    """A biller as payers see it (the pattern stays with the server; the hint explains it)."""
    return {
        "biller_id": row.biller_id,
        "name": row.name,
        "category": row.category,
        "currency": row.currency,
        "min": Money(row.min_minor, row.currency).to_wire(),
        "max": Money(row.max_minor, row.currency).to_wire(),
        "reference_hint": row.reference_hint,
    }


def biller_admin_wire(row: Biller) -> dict[str, Any]:
    """A biller as operators see it: everything, the pattern and state included."""
    return {
        **biller_wire(row),
        "reference_pattern": row.reference_pattern,
        "account_id": row.account_id,
        "enabled": row.enabled,
        "created_at": iso(row.created_at),
    }


def compile_reference_pattern(pattern: str) -> re.Pattern[str]:
    """The biller's reference rule as a compiled regex, or ``invalid_biller``."""
    if not 1 <= len(pattern) <= MAX_PATTERN:
        raise InvalidBiller(f"The reference pattern is 1 to {MAX_PATTERN} characters")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise InvalidBiller(f"The reference pattern is not a regular expression: {exc}") from None


class BillerRegistry:
    """Register, list, enable and disable billers (operators); look one up (bill payments).
    An ``operator_id`` given to a change is recorded in ``operator_actions`` with it."""

    categories = BILLER_CATEGORIES

    def __init__(
        self, db: Database, clock: Clock, accounts: AccountDirectory, currencies: Collection[str]
    ) -> None:
        self.db = db
        self.clock = clock
        self.accounts = accounts
        self.currencies = tuple(currencies)

    async def do_create_biller(
        self, spec: BillerSpec, *, operator_id: str | None = None
    ) -> dict[str, Any]:
        """Check ``spec``, open the biller's ledger account, then store the biller enabled."""
        name = spec.name.strip()
        if not 1 <= len(name) <= MAX_NAME:
            raise InvalidBiller(f"A biller's name is 1 to {MAX_NAME} characters")
        if spec.category not in BILLER_CATEGORIES:
            raise InvalidBiller(f"The category is one of {', '.join(BILLER_CATEGORIES)}")
        compile_reference_pattern(spec.reference_pattern)
        hint = spec.reference_hint.strip()
        if len(hint) > MAX_HINT:
            raise InvalidBiller(f"The reference hint is at most {MAX_HINT} characters")
        low = Money.parse(spec.min_amount, spec.currency, enabled=self.currencies)
        high = Money.parse(spec.max_amount, spec.currency, enabled=self.currencies)
        if high < low:
            raise InvalidBiller("The largest bill must not be smaller than the smallest")
        biller_id = new_id()
        # The account first, in its own transaction (an unused account is harmless).
        account = await self.accounts.ensure_biller(biller_id, low.currency)
        row = Biller(
            biller_id=biller_id,
            name=name,
            category=spec.category,
            currency=low.currency,
            reference_pattern=spec.reference_pattern,
            reference_hint=hint,
            min_minor=low.amount_minor,
            max_minor=high.amount_minor,
            account_id=account.account_id,
            enabled=True,
            created_at=self.clock.now(),
        )
        async with self.db.transaction() as tx:
            tx.session.add(row)
            if operator_id is not None:
                await record_operator_action(
                    tx, self.clock, operator_id, "wallet.biller.create", f"biller:{biller_id}"
                )
        return biller_admin_wire(row)

    async def list_billers(self, *, enabled_only: bool) -> list[dict[str, Any]]:
        """Billers by name, as operators see them."""
        return [biller_admin_wire(row) for row in await self.billers(enabled_only=enabled_only)]

    async def billers(self, *, enabled_only: bool) -> list[Biller]:
        query = select(Biller).order_by(Biller.name, Biller.biller_id)
        if enabled_only:
            query = query.where(Biller.enabled.is_(True))
        async with self.db.read() as session:
            return list(await session.scalars(query))

    async def get_biller(self, biller_id: str) -> Biller | None:
        """A biller, enabled or not; None for an unknown or malformed id."""
        if not is_id(biller_id):
            return None
        async with self.db.read() as session:
            return await session.get(Biller, biller_id)

    async def get_billers_by_id(self, biller_ids: Collection[str]) -> dict[str, Biller]:
        if not biller_ids:
            return {}
        async with self.db.read() as session:
            rows = await session.scalars(select(Biller).where(Biller.biller_id.in_(biller_ids)))
            return {row.biller_id: row for row in rows}

    async def do_set_enabled(
        self, biller_id: str, enabled: bool, *, operator_id: str | None = None
    ) -> dict[str, Any]:
        """Let a biller take payments again, or stop it; paid bills are unaffected."""
        if not is_id(biller_id):
            raise BillerNotFound()
        async with self.db.transaction() as tx:
            changed = await tx.session.execute(
                update(Biller)
                .where(Biller.biller_id == biller_id)
                .values(enabled=enabled)
                .returning(Biller.biller_id)
            )
            if changed.scalar_one_or_none() is None:
                raise BillerNotFound()
            if operator_id is not None:
                verb = "enable" if enabled else "disable"
                await record_operator_action(
                    tx, self.clock, operator_id, f"wallet.biller.{verb}", f"biller:{biller_id}"
                )
            row = await tx.session.get(Biller, biller_id, populate_existing=True)
            assert row is not None
            return biller_admin_wire(row)
