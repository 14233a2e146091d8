"""Find or create ledger accounts, each in a short transaction of its own.

An account is created before the money transaction that needs it, so that transaction never
creates rows it must then lock; a race between two creators loses harmlessly and reads the
winner. Accounts are never deleted (closing is a status), so a found account is cached.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from courtyard.core.clock import Clock
from courtyard.core.ids import new_id
from courtyard.db import Database, Tx
from courtyard.domains.wallet.models import LedgerAccount, LedgerAccountKey

# purpose -> (cached balance, may go negative); docs/wallet.md, "Account purposes".
SYSTEM_PURPOSES: dict[str, bool] = {
    "transfer_escrow": False,
    "red_packet_escrow": False,
    "withdrawal_escrow": False,
    "provider_clearing": True,
    "fees": False,
    "suspense": True,
}


@dataclass(frozen=True, slots=True)
class AccountRef:
    account_id: str
    currency: str
    owner_kind: str
    owner_id: str | None
    purpose: str
    cached: bool


def owner_key(
    owner_kind: str, owner_id: str | None, purpose: str, currency: str, provider: str | None
) -> str:
    parts = [owner_kind, owner_id or "-", purpose]
    if provider:
        parts.append(provider)
    parts.append(currency)
    return ":".join(parts)


class AccountDirectory:
    """``ensure_*`` return an account, creating it if needed; ``find_*`` only read."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._known: dict[str, AccountRef] = {}

    async def ensure_user(self, user_id: str, currency: str) -> AccountRef:
        return await self._ensure("user", user_id, "main", currency, None)

    async def ensure_system(
        self, purpose: str, currency: str, provider: str | None = None
    ) -> AccountRef:
        if purpose not in SYSTEM_PURPOSES:
            raise ValueError(f"unknown system account purpose {purpose!r}")
        return await self._ensure("system", None, purpose, currency, provider)

    async def find_user(self, user_id: str, currency: str) -> AccountRef | None:
        return await self._find(owner_key("user", user_id, "main", currency, None))

    async def existing_user(self, user_id: str, currency: str) -> AccountRef:
        """An account that must exist (inside a money transaction, which never creates)."""
        return _must(await self.find_user(user_id, currency), user_id)

    async def existing_system(
        self, purpose: str, currency: str, provider: str | None = None
    ) -> AccountRef:
        key = owner_key("system", None, purpose, currency, provider)
        return _must(await self._find(key), key)

    async def ensure_biller(self, biller_id: str, currency: str) -> AccountRef:
        """What users have paid a biller: cached, never negative, in its one currency."""
        return await self._ensure("biller", biller_id, "main", currency, None)

    async def existing_biller(self, biller_id: str, currency: str) -> AccountRef:
        key = owner_key("biller", biller_id, "main", currency, None)
        return _must(await self._find(key), key)

    async def ensure_merchant(self, merchant_id: str, currency: str) -> AccountRef:
        """What payers have paid a merchant in ``currency``: cached, never negative."""
        return await self._ensure("merchant", merchant_id, "main", currency, None)

    async def find_merchant(self, merchant_id: str, currency: str) -> AccountRef | None:
        return await self._find(owner_key("merchant", merchant_id, "main", currency, None))

    async def existing_merchant(self, merchant_id: str, currency: str) -> AccountRef:
        """A merchant account that must exist (inside a money transaction)."""
        return _must(await self.find_merchant(merchant_id, currency), f"merchant {merchant_id}")

    async def user_accounts(self, user_id: str) -> list[AccountRef]:
        """The user's main accounts, one per currency they have used."""
        async with self.db.read() as session:
            rows = await session.scalars(
                select(LedgerAccount)
                .where(
                    LedgerAccount.owner_kind == "user",
                    LedgerAccount.owner_id == user_id,
                    LedgerAccount.purpose == "main",
                )
                .order_by(LedgerAccount.currency)
            )
            return [_ref(row) for row in rows]

    async def _find(self, key: str) -> AccountRef | None:
        if (known := self._known.get(key)) is not None:
            return known
        async with self.db.read() as session:
            row = await session.scalar(
                select(LedgerAccount)
                .join(LedgerAccountKey, LedgerAccountKey.account_id == LedgerAccount.account_id)
                .where(LedgerAccountKey.owner_key == key)
            )
        if row is None:
            return None
        self._known[key] = ref = _ref(row)
        return ref

    async def _ensure(
        self,
        owner_kind: str,
        owner_id: str | None,
        purpose: str,
        currency: str,
        provider: str | None,
    ) -> AccountRef:
        key = owner_key(owner_kind, owner_id, purpose, currency, provider)
        if (found := await self._find(key)) is not None:
            return found
        async with self.db.transaction() as tx:
            await self._create(tx, key, owner_kind, owner_id, purpose, currency, provider)
        found = await self._find(key)
        if found is None:
            raise RuntimeError(f"ledger account {key} was not created")
        return found

    async def _create(
        self,
        tx: Tx,
        key: str,
        owner_kind: str,
        owner_id: str | None,
        purpose: str,
        currency: str,
        provider: str | None,
    ) -> None:
        account_id = new_id()
        insert = pg_insert if tx.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        claimed = await tx.session.execute(
            insert(LedgerAccountKey)
            .values(owner_key=key, account_id=account_id)
            .on_conflict_do_nothing(index_elements=["owner_key"])
            .returning(LedgerAccountKey.account_id)
        )
        if claimed.scalar_one_or_none() is None:
            return  # another creator won; _find reads its account
        system = owner_kind == "system"
        now = self.clock.now()
        await tx.session.execute(
            insert(LedgerAccount).values(
                account_id=account_id,
                owner_kind=owner_kind,
                owner_id=owner_id,
                purpose=purpose,
                provider=provider,
                currency=currency,
                cached=not system,
                balance_minor=None if system else 0,
                allow_negative=system and SYSTEM_PURPOSES[purpose],
                status="open",
                limit_day=None,
                limit_used_minor=0,
                last_entry_id=None,
                created_at=now,
                updated_at=now,
            )
        )


def _must(ref: AccountRef | None, what: str) -> AccountRef:
    if ref is None:
        raise LookupError(f"no ledger account for {what}")
    return ref


def _ref(row: LedgerAccount) -> AccountRef:
    return AccountRef(
        account_id=row.account_id,
        currency=row.currency,
        owner_kind=row.owner_kind,
        owner_id=row.owner_id,
        purpose=row.purpose,
        cached=row.cached,
    )
