"""One user's wallet at a glance, for support and finance: balances, PIN lock state and how
many flows are still open. Counterparties are not named; the view is recorded."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.clock import Clock
from courtyard.db import Database
from courtyard.domains.accounts import get_profiles, get_user_id_by_username, record_operator_action
from courtyard.domains.wallet.flow_models import (
    ProviderOperation,
    RedPacket,
    Transfer,
    WalletPin,
    WalletUserFlow,
)
from courtyard.domains.wallet.ledger_browser import AccountLine, account_lines
from courtyard.domains.wallet.models import LedgerAccount
from courtyard.domains.wallet.oversight_errors import WalletUserNotFound

OPERATIONS_IN_FLIGHT = ("created", "pending", "held", "submitted", "review")


@dataclass(frozen=True, slots=True)
class PinSummary:
    set: bool
    failed_count: int
    locked_until: dt.datetime | None
    locked: bool


@dataclass(frozen=True, slots=True)
class OpenFlows:
    transfers_sent: int
    transfers_received: int
    red_packets: int
    operations: int


@dataclass(frozen=True, slots=True)
class UserWalletSummary:
    user_id: str
    username: str
    accounts: list[AccountLine]
    pin: PinSummary
    open_flows: OpenFlows


class UserSummaries:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def access_summary(self, operator_id: str, username: str) -> UserWalletSummary:
        """The wallet of the user called ``username``; ``WalletUserNotFound`` if none."""
        now = self.clock.now()
        async with self.db.transaction() as tx:
            session = tx.session
            user_id = await get_user_id_by_username(session, username)
            if user_id is None:
                raise WalletUserNotFound()
            profiles = await get_profiles(session, {user_id})
            rows = await session.scalars(
                select(LedgerAccount)
                .where(LedgerAccount.owner_kind == "user", LedgerAccount.owner_id == user_id)
                .order_by(LedgerAccount.currency, LedgerAccount.purpose)
            )
            accounts = await account_lines(session, list(rows))
            pin = await session.get(WalletPin, user_id)
            summary = UserWalletSummary(
                user_id=user_id,
                username=profiles[user_id][0] if user_id in profiles else username,
                accounts=accounts,
                pin=PinSummary(
                    set=pin is not None,
                    failed_count=pin.failed_count if pin else 0,
                    locked_until=pin.locked_until if pin else None,
                    locked=bool(pin and pin.locked_until and pin.locked_until > now),
                ),
                open_flows=await _open_flows(session, user_id),
            )
            await record_operator_action(
                tx, self.clock, operator_id, "wallet.user.view", f"user:{user_id}"
            )
        return summary


async def _open_flows(session: AsyncSession, user_id: str) -> OpenFlows:
    async def transfers(role: str) -> int:
        count = await session.scalar(
            select(func.count())
            .select_from(WalletUserFlow)
            .join(Transfer, Transfer.transfer_id == WalletUserFlow.flow_id)
            .where(
                WalletUserFlow.user_id == user_id,
                WalletUserFlow.flow_kind == "transfer",
                WalletUserFlow.role == role,
                Transfer.state == "pending",
            )
        )
        return int(count or 0)

    packets = await session.scalar(
        select(func.count())
        .select_from(WalletUserFlow)
        .join(RedPacket, RedPacket.packet_id == WalletUserFlow.flow_id)
        .where(
            WalletUserFlow.user_id == user_id,
            WalletUserFlow.flow_kind == "red_packet",
            WalletUserFlow.role == "sender",
            RedPacket.state == "open",
        )
    )
    operations = await session.scalar(
        select(func.count()).where(
            ProviderOperation.user_id == user_id,
            ProviderOperation.state.in_(OPERATIONS_IN_FLIGHT),
        )
    )
    return OpenFlows(
        transfers_sent=await transfers("sender"),
        transfers_received=await transfers("recipient"),
        red_packets=int(packets or 0),
        operations=int(operations or 0),
    )
