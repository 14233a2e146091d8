"""The domain services the console's pages call; never a repository or a model."""

from __future__ import annotations

from dataclasses import dataclass

from courtyard.core.clock import Clock
from courtyard.db import Database
from courtyard.domains.accounts import OperatorActionsLog, OperatorSessions, OperatorsService
from courtyard.domains.audit import AuditLog
from courtyard.domains.jobs import DueJobs
from courtyard.domains.legal import LegalDesk, TransparencyReports
from courtyard.domains.privacy.rights import UserRights
from courtyard.domains.wallet import AuditRuns, MerchantRegistry, WalletOversight, WalletService
from courtyard.domains.wallet.billers import BillerRegistry
from courtyard.domains.wallet.reconcile import Reconciliation
from courtyard.domains.wallet.reconcile_resolutions import Resolutions


@dataclass(frozen=True, slots=True)
class ConsoleServices:
    """Add a field here (and to ``build``) when a new page needs another domain's service."""

    clock: Clock
    sessions: OperatorSessions
    actions: OperatorActionsLog
    wallet: WalletOversight
    jobs: DueJobs
    operators: OperatorsService
    # The wallet's own parts, shared with the API (the payment provider's client included).
    audits: AuditRuns
    reconciliation: Reconciliation
    resolutions: Resolutions
    merchants: MerchantRegistry
    billers: BillerRegistry
    transparency: TransparencyReports
    audit_log: AuditLog  # the Merkle log of every action (not the ledger's audits above)
    legal: LegalDesk  # the lawful-request desk, with the node's rules and signing key
    rights: UserRights  # legal holds and complaints (docs/user-rights.md)

    @classmethod
    def build(
        cls,
        db: Database,
        clock: Clock,
        sessions: OperatorSessions,
        jobs: DueJobs,
        wallet: WalletService,
        operators: OperatorsService,
        audit_log: AuditLog,
        legal: LegalDesk,
        rights: UserRights,
    ) -> ConsoleServices:
        return cls(
            clock=clock,
            sessions=sessions,
            actions=OperatorActionsLog(db),
            wallet=WalletOversight(db, clock),
            jobs=jobs,
            operators=operators,
            audits=wallet.audit_runs,
            reconciliation=wallet.reconciliation,
            resolutions=wallet.resolutions,
            merchants=wallet.merchant_registry,
            billers=wallet.billers,
            transparency=TransparencyReports(db, clock),
            audit_log=audit_log,
            legal=legal,
            rights=rights,
        )
