"""The wallet's part in erasing an account (docs/user-rights.md): erasure waits until no money
is held or on its way, then the user's id in every financial row that must be kept becomes
one pseudonym, and what was kept only for the user goes. Entries and postings are never
touched (they name accounts only, and are append-only), so the ledger audit stays clean."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Executable, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.money import Money, MoneyWire
from courtyard.db import Base, Tx
from courtyard.domains.wallet.accounts import owner_key
from courtyard.domains.wallet.commerce_models import BillPayment, Merchant, Payment, PaymentRefund
from courtyard.domains.wallet.flow_models import (
    ProviderOperation,
    RedPacket,
    RedPacketShare,
    Transfer,
    WalletIdempotency,
    WalletPin,
    WalletUserFlow,
)
from courtyard.domains.wallet.models import LedgerAccount, LedgerAccountKey

# Top-ups and withdrawals that may still move money (docs/wallet.md, "Top-up and withdrawal").
OPEN_OPERATION_STATES = ("created", "pending", "held", "submitted", "review")


@dataclass(frozen=True, slots=True)
class MoneyHeld:
    """Non-zero balances of the user's (and their merchants') accounts, and the flows that
    may still move money to or from them (``transfer:<id>``, ``red_packet:<id>``,
    ``topup:<id>``, ``withdrawal:<id>``)."""

    balances: list[MoneyWire] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.balances and not self.in_flight


async def get_money_held(
    session: AsyncSession, user_id: str, *, for_update: bool = False
) -> MoneyHeld:
    """What keeps the user's wallet from being empty, read in the caller's session. With
    ``for_update`` the user's accounts are locked first (as every money transaction locks
    them), so no payment lands between this check and the caller's commit."""
    if for_update:
        await session.execute(
            select(LedgerAccount.account_id)
            .where(LedgerAccount.owner_kind == "user", LedgerAccount.owner_id == user_id)
            .order_by(LedgerAccount.account_id)
            .with_for_update()
        )
    merchants = select(Merchant.merchant_id).where(Merchant.owner_user_id == user_id)
    rows = await session.execute(
        select(LedgerAccount.currency, func.sum(LedgerAccount.balance_minor))
        .where(
            or_(
                (LedgerAccount.owner_kind == "user") & (LedgerAccount.owner_id == user_id),
                (LedgerAccount.owner_kind == "merchant") & LedgerAccount.owner_id.in_(merchants),
            ),
            LedgerAccount.balance_minor != 0,
        )
        .group_by(LedgerAccount.currency)
        .order_by(LedgerAccount.currency)
    )
    balances = [Money(int(total), currency).to_wire() for currency, total in rows if total]
    return MoneyHeld(balances, await _in_flight(session, user_id))


async def _in_flight(session: AsyncSession, user_id: str) -> list[str]:
    transfers = await session.scalars(
        select(Transfer.transfer_id).where(
            Transfer.state == "pending",
            or_(Transfer.sender_user_id == user_id, Transfer.recipient_user_id == user_id),
        )
    )
    # An open packet with a share nobody grabbed yet is refunded to its sender at expiry.
    ungrabbed = exists().where(
        RedPacketShare.packet_id == RedPacket.packet_id, RedPacketShare.grabbed_by.is_(None)
    )
    packets = await session.scalars(
        select(RedPacket.packet_id).where(
            RedPacket.state == "open", RedPacket.sender_user_id == user_id, ungrabbed
        )
    )
    operations = await session.execute(
        select(ProviderOperation.kind, ProviderOperation.operation_id).where(
            ProviderOperation.user_id == user_id,
            ProviderOperation.state.in_(OPEN_OPERATION_STATES),
        )
    )
    return sorted(
        [f"transfer:{i}" for i in transfers]
        + [f"red_packet:{i}" for i in packets]
        + [f"{kind}:{i}" for kind, i in operations]
    )


async def pseudonymise_wallet_user(tx: Tx, user_id: str, pseudonym: str) -> dict[str, int]:
    """Replace ``user_id`` by ``pseudonym`` in every kept financial row, close the user's
    accounts, suspend the merchants they ran, and delete their PIN and idempotency answers;
    returns the rows changed or deleted per table."""
    counts = {"ledger_account_keys": await _rekey_accounts(tx, user_id, pseudonym)}
    counts["ledger_accounts"] = await _run(
        tx,
        update(LedgerAccount)
        .where(LedgerAccount.owner_kind == "user", LedgerAccount.owner_id == user_id)
        .values(owner_id=pseudonym, status="closed"),
    )
    replacements: list[tuple[str, Executable]] = [
        ("transfers", _swap(Transfer, "sender_user_id", user_id, pseudonym)),
        ("transfers", _swap(Transfer, "recipient_user_id", user_id, pseudonym)),
        ("red_packets", _swap(RedPacket, "sender_user_id", user_id, pseudonym)),
        ("red_packets", _swap(RedPacket, "to_user_id", user_id, pseudonym)),
        ("red_packet_shares", _swap(RedPacketShare, "grabbed_by", user_id, pseudonym)),
        ("provider_operations", _swap(ProviderOperation, "user_id", user_id, pseudonym)),
        ("payments", _swap(Payment, "payer_user_id", user_id, pseudonym)),
        ("payment_refunds", _swap(PaymentRefund, "by_user_id", user_id, pseudonym)),
        ("bill_payments", _swap(BillPayment, "user_id", user_id, pseudonym)),
        (
            "merchants",
            update(Merchant)
            .where(Merchant.owner_user_id == user_id)
            .values(owner_user_id=pseudonym, status="suspended"),
        ),
        ("wallet_pins", delete(WalletPin).where(WalletPin.user_id == user_id)),
        (
            "wallet_idempotency",
            delete(WalletIdempotency).where(WalletIdempotency.user_id == user_id),
        ),
        ("wallet_user_flows", _swap(WalletUserFlow, "user_id", user_id, pseudonym)),
    ]
    for table, statement in replacements:
        counts[table] = counts.get(table, 0) + await _run(tx, statement)
    return counts


async def _rekey_accounts(tx: Tx, user_id: str, pseudonym: str) -> int:
    """``user:<id>:main:<currency>`` → ``user:<pseudonym>:main:<currency>`` for each of the
    user's accounts (the key is the lookup's primary key, so it is replaced, not kept)."""
    accounts = await tx.session.execute(
        select(
            LedgerAccount.account_id,
            LedgerAccount.purpose,
            LedgerAccount.currency,
            LedgerAccount.provider,
        ).where(LedgerAccount.owner_kind == "user", LedgerAccount.owner_id == user_id)
    )
    changed = 0
    for account_id, purpose, currency, provider in accounts:
        old = owner_key("user", user_id, purpose, currency, provider)
        new = owner_key("user", pseudonym, purpose, currency, provider)
        changed += await _run(
            tx,
            update(LedgerAccountKey)
            .where(LedgerAccountKey.owner_key == old, LedgerAccountKey.account_id == account_id)
            .values(owner_key=new),
        )
    return changed


def _swap(model: type[Base], column: str, user_id: str, pseudonym: str) -> Executable:
    return update(model).where(getattr(model, column) == user_id).values({column: pseudonym})


async def _run(tx: Tx, statement: Executable) -> int:
    result = await tx.session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)
