"""Wallet: a double-entry ledger in integer minor units, and the flows that move money on it."""

from courtyard.domains.wallet.accounts import AccountDirectory, AccountRef
from courtyard.domains.wallet.audit import AuditReport, Finding, audit_ledger
from courtyard.domains.wallet.errors import (
    AccountFrozen,
    DailyLimitExceeded,
    InsufficientFunds,
    UnbalancedEntry,
)
from courtyard.domains.wallet.ledger import Book, EntryDraft, Ledger, Leg, Posted
from courtyard.domains.wallet.pins import PinPolicy, load_pepper
from courtyard.domains.wallet.policy import WalletPolicy
from courtyard.domains.wallet.service import WalletService
from courtyard.domains.wallet.transfers import TransferRequest

__all__ = [
    "AccountDirectory",
    "AccountFrozen",
    "AccountRef",
    "AuditReport",
    "Book",
    "DailyLimitExceeded",
    "EntryDraft",
    "Finding",
    "InsufficientFunds",
    "Ledger",
    "Leg",
    "PinPolicy",
    "Posted",
    "TransferRequest",
    "UnbalancedEntry",
    "WalletPolicy",
    "WalletService",
    "audit_ledger",
    "load_pepper",
]
