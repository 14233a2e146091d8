"""The wallet as the API, SDK and CLI see it: balances, PIN, transfers, statements."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from courtyard.core.clock import Clock
from courtyard.core.money import Money
from courtyard.db import Database
from courtyard.domains.accounts import AccountsService, Hasher, Identity, OperatorsService
from courtyard.domains.jobs import DueJobs
from courtyard.domains.messaging import Timeline
from courtyard.domains.wallet.accounts import AccountDirectory
from courtyard.domains.wallet.audit_runs import AUDIT_JOB, AuditRuns
from courtyard.domains.wallet.billers import BillerRegistry
from courtyard.domains.wallet.bills import Bills
from courtyard.domains.wallet.context import WalletContext, iso
from courtyard.domains.wallet.errors import PinRequired
from courtyard.domains.wallet.idempotency import Idempotency
from courtyard.domains.wallet.ledger import Ledger
from courtyard.domains.wallet.merchants import MerchantRegistry, Merchants
from courtyard.domains.wallet.models import LedgerAccount
from courtyard.domains.wallet.operations import CHECK_JOBS, SUBMIT_JOBS, Operations
from courtyard.domains.wallet.payments import Payments
from courtyard.domains.wallet.pins import PinPolicy, Pins
from courtyard.domains.wallet.policy import WalletPolicy
from courtyard.domains.wallet.providers import PaymentProvider
from courtyard.domains.wallet.qr_keys import QrKeyring
from courtyard.domains.wallet.reconcile import RECONCILE_JOB, Reconciliation
from courtyard.domains.wallet.reconcile_resolutions import Resolutions
from courtyard.domains.wallet.red_packets import EXPIRE_JOB, RedPackets
from courtyard.domains.wallet.statements import Statements
from courtyard.domains.wallet.transfers import REFUND_JOB, Transfers
from courtyard.streams import StreamStore


class WalletService:
    """Builds the wallet's parts around one database and clock; routes call its members."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        streams: StreamStore,
        timeline: Timeline,
        accounts_service: AccountsService,
        hasher: Hasher,
        jobs: DueJobs,
        policy: WalletPolicy,
        pepper: bytes,
        pin_policy: PinPolicy,
        idempotency_days: int,
        *,
        qr_keys: QrKeyring,
        provider: PaymentProvider | None = None,
        callback_url: str = "",
        recurring_jobs: bool = True,
        on_audit_findings: Callable[[int], None] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.policy = policy
        self.users = accounts_service
        self.accounts = AccountDirectory(db, clock)
        self.ledger = Ledger(clock, streams)
        self.idempotency = Idempotency(db, clock, idempotency_days)
        self.pins = Pins(db, clock, hasher, streams, pepper, pin_policy)
        context = WalletContext(
            db, clock, self.ledger, self.accounts, self.idempotency, self.pins, timeline, policy
        )
        self.transfers = Transfers(context)
        self.red_packets = RedPackets(context)
        self.billers = BillerRegistry(db, clock, self.accounts, policy.currencies)
        self.bills = Bills(context, self.billers)
        self.statements = Statements(db, self.accounts)
        self.qr_keys = qr_keys
        self.merchant_registry = MerchantRegistry(db, clock, self.accounts, policy.currencies)
        self.merchants = Merchants(db, clock, self.accounts, qr_keys, policy.currencies)
        self.payments = Payments(context, qr_keys, self.merchants)
        jobs.register_local(REFUND_JOB, self.transfers.run_refund)
        jobs.register_local(EXPIRE_JOB, self.red_packets.run_expire)
        self.operations = Operations(context, provider, callback_url)
        for kind in ("topup", "withdrawal"):
            jobs.register_external(SUBMIT_JOBS[kind], self.operations.run_submit)
            jobs.register_external(CHECK_JOBS[kind], self.operations.run_check)
        # Oversight: the 10-minute ledger audit and the daily provider reconciliation, each
        # scheduled at start (unless ``recurring_jobs`` is off) and then by its own runs.
        self.recurring_jobs = recurring_jobs
        self.audit_runs = AuditRuns(db, clock, on_findings=on_audit_findings)
        self.reconciliation = Reconciliation(db, clock, self.operations)
        operators = OperatorsService(db, clock, hasher)
        self.resolutions = Resolutions(
            db, clock, self.ledger, self.accounts, self.operations, operators
        )
        jobs.register_external(AUDIT_JOB, self.audit_runs.run_job)
        jobs.register_external(RECONCILE_JOB, self.reconciliation.run_job)

    async def start(self) -> None:
        """Make the system accounts every flow needs, for each enabled currency, and start
        the payment provider's client (and the in-process sandbox, if that is the provider)."""
        for currency in self.policy.currencies:
            await self.accounts.ensure_system("transfer_escrow", currency)
            await self.accounts.ensure_system("red_packet_escrow", currency)
            await self.accounts.ensure_system("withdrawal_escrow", currency)
        await self.operations.start()
        await self.audit_runs.start(schedule_job=self.recurring_jobs)
        await self.reconciliation.start(schedule_job=self.recurring_jobs)

    async def stop(self) -> None:
        """Close the payment provider's client (and stop an in-process sandbox)."""
        await self.operations.stop()

    async def overview(self, identity: Identity) -> dict[str, Any]:
        """Balances per currency, PIN state and today's limits."""
        accounts = {a.currency: a for a in await self.accounts.user_accounts(identity.user_id)}
        balances = await self._balances([a.account_id for a in accounts.values()])
        pin = await self.pins.state(identity.user_id)
        today = self.clock.now().date()
        resets = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), dt.UTC)
        rows = []
        limits = []
        for currency in self.policy.currencies:
            account = accounts.get(currency)
            balance, status, day, used = (
                balances[account.account_id] if account else (0, "open", None, 0)
            )
            rows.append(
                {
                    "account_id": account.account_id if account else None,
                    "currency": currency,
                    "balance": Money(balance, currency).to_wire(),
                    "status": status,
                }
            )
            limits.append(
                {
                    "currency": currency,
                    "single": self.policy.single_limit(currency).to_wire(),
                    "daily": self.policy.daily_limit(currency).to_wire(),
                    "used_today": Money(used if day == today else 0, currency).to_wire(),
                    "resets_at": iso(resets),
                }
            )
        return {
            "accounts": rows,
            "pin": {"set": pin.set, "locked_until": iso(pin.locked_until)},
            "limits": limits,
        }

    async def _balances(self, account_ids: list[str]) -> dict[str, tuple[int, str, Any, int]]:
        if not account_ids:
            return {}
        async with self.db.read() as session:
            rows = await session.execute(
                select(
                    LedgerAccount.account_id,
                    LedgerAccount.balance_minor,
                    LedgerAccount.status,
                    LedgerAccount.limit_day,
                    LedgerAccount.limit_used_minor,
                ).where(LedgerAccount.account_id.in_(account_ids))
            )
            return {r[0]: (r[1] or 0, r[2], r[3], r[4]) for r in rows}

    async def do_set_pin(
        self,
        identity: Identity,
        pin: str,
        *,
        password: str | None = None,
        current_pin: str | None = None,
    ) -> str:
        """Set the PIN with the account password, or change it with the current PIN."""
        if password is not None:
            await self.users.check_password(identity, password)
        elif current_pin is not None:
            await self.pins.check(identity.user_id, current_pin)
        else:
            raise PinRequired("Give your account password (or your current PIN)")
        return await self.pins.do_set(identity.user_id, pin)
