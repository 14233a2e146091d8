"""Freezing and unfreezing accounts: a frozen account refuses debits (``account_frozen``)
and still takes credits, so refunds reach it (docs/wallet.md, "API").

The status changes under the account's row lock, the ledger's own lock, so a payment either
finished before the freeze or sees it; the operator's note is recorded in the same
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from courtyard.core.clock import Clock
from courtyard.db import Database
from courtyard.domains.accounts import get_user_id_by_username, record_operator_action
from courtyard.domains.wallet.accounts import owner_key
from courtyard.domains.wallet.models import LedgerAccount, LedgerAccountKey
from courtyard.domains.wallet.oversight_errors import (
    AccountNotFreezable,
    AccountStatusConflict,
    LedgerAccountNotFound,
    NoteRequired,
    WalletUserNotFound,
)

MAX_NOTE_CHARS = 500
# action -> (the status it needs, the status it sets, the recorded action)
CHANGES = {
    "freeze": ("open", "frozen", "wallet.account.freeze"),
    "unfreeze": ("frozen", "open", "wallet.account.unfreeze"),
}


@dataclass(frozen=True, slots=True)
class StatusChange:
    account_id: str
    currency: str
    status: str


def check_note(note: str | None) -> str:
    """The trimmed note, or ``NoteRequired`` if it is empty or longer than 500 characters."""
    cleaned = (note or "").strip()
    if not cleaned or len(cleaned) > MAX_NOTE_CHARS:
        raise NoteRequired()
    return cleaned


class Freezing:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def do_freeze(self, operator_id: str, account_id: str, note: str | None) -> StatusChange:
        """Freeze an open user, merchant or biller account, saying why."""
        return await self._change(operator_id, "freeze", account_id, note)

    async def do_unfreeze(
        self, operator_id: str, account_id: str, note: str | None
    ) -> StatusChange:
        """Let a frozen account pay again, saying why."""
        return await self._change(operator_id, "unfreeze", account_id, note)

    async def do_change_user_account(
        self, operator_id: str, action: str, username: str, currency: str, note: str | None
    ) -> StatusChange:
        """``freeze`` or ``unfreeze`` the main account of ``username`` in ``currency`` (what
        ``courtyard admin wallet freeze|unfreeze`` calls)."""
        async with self.db.read() as session:
            user_id = await get_user_id_by_username(session, username)
            if user_id is None:
                raise WalletUserNotFound()
            key = owner_key("user", user_id, "main", currency.strip().upper(), None)
            account_id = await session.scalar(
                select(LedgerAccountKey.account_id).where(LedgerAccountKey.owner_key == key)
            )
        if account_id is None:
            raise LedgerAccountNotFound(f"{username} has no {currency.upper()} account")
        return await self._change(operator_id, action, account_id, note)

    async def _change(
        self, operator_id: str, action: str, account_id: str, note: str | None
    ) -> StatusChange:
        needs, sets, recorded = CHANGES[action]
        note = check_note(note)
        async with self.db.transaction() as tx:
            row = (
                await tx.session.execute(
                    select(
                        LedgerAccount.owner_kind,
                        LedgerAccount.owner_id,
                        LedgerAccount.status,
                        LedgerAccount.currency,
                    )
                    .where(LedgerAccount.account_id == account_id)
                    .with_for_update()
                )
            ).one_or_none()
            if row is None:
                raise LedgerAccountNotFound()
            if row.owner_kind == "system":
                raise AccountNotFreezable()
            if row.status != needs:
                raise AccountStatusConflict(
                    f"The account is {row.status}; it must be {needs} to {action} it.",
                    status=row.status,
                )
            await tx.session.execute(
                update(LedgerAccount)
                .where(LedgerAccount.account_id == account_id, LedgerAccount.status == needs)
                .values(status=sets, updated_at=self.clock.now())
            )
            owner = row.owner_id if row.owner_kind == "user" else None
            await record_operator_action(
                tx, self.clock, operator_id, recorded, f"account:{account_id}", note,
                subject_user_id=owner,
            )  # fmt: skip
        return StatusChange(account_id, row.currency, sets)
