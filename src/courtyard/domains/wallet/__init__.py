"""Wallet: a double-entry ledger in integer minor units, and the flows that move money on it."""

from courtyard.domains.wallet.accounts import AccountDirectory, AccountRef
from courtyard.domains.wallet.audit import AuditReport, AuditWindow, Finding, audit_ledger
from courtyard.domains.wallet.audit_runs import AuditRuns, AuditRunView
from courtyard.domains.wallet.disclosure import get_transaction_records
from courtyard.domains.wallet.erasure import MoneyHeld, get_money_held, pseudonymise_wallet_user
from courtyard.domains.wallet.errors import (
    AccountFrozen,
    DailyLimitExceeded,
    InsufficientFunds,
    UnbalancedEntry,
)
from courtyard.domains.wallet.ledger import Book, EntryDraft, Ledger, Leg, Posted
from courtyard.domains.wallet.merchants import MerchantRegistration, MerchantRegistry, QrRequest
from courtyard.domains.wallet.oversight import WalletOversight
from courtyard.domains.wallet.payments import PaymentRequest, RefundRequest
from courtyard.domains.wallet.pins import PinPolicy, load_pepper
from courtyard.domains.wallet.policy import WalletPolicy
from courtyard.domains.wallet.qr_keys import QrKeyring
from courtyard.domains.wallet.reconcile import ReconciliationItemView, ReconciliationRunView
from courtyard.domains.wallet.service import WalletService
from courtyard.domains.wallet.transfers import TransferRequest

__all__ = [
    "AccountDirectory",
    "AccountFrozen",
    "AccountRef",
    "AuditReport",
    "AuditRunView",
    "AuditRuns",
    "AuditWindow",
    "Book",
    "DailyLimitExceeded",
    "EntryDraft",
    "Finding",
    "InsufficientFunds",
    "Ledger",
    "Leg",
    "MerchantRegistration",
    "MerchantRegistry",
    "MoneyHeld",
    "PaymentRequest",
    "PinPolicy",
    "Posted",
    "QrKeyring",
    "QrRequest",
    "ReconciliationItemView",
    "ReconciliationRunView",
    "RefundRequest",
    "TransferRequest",
    "UnbalancedEntry",
    "WalletOversight",
    "WalletPolicy",
    "WalletService",
    "audit_ledger",
    "get_money_held",
    "get_transaction_records",
    "load_pepper",
    "pseudonymise_wallet_user",
]
