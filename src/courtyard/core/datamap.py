"""The data map's vocabulary: what a stored column holds, why, on what lawful basis and for how
long. Each domain declares its tables' columns (``domains/<name>/datamap.py``); issue 6 adds
the check that every column of every model is declared and the policy text generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Category = Literal[
    "identifier",  # pseudonymous ids
    "financial",
    "financial_counterparty",  # about a third party, needed for a payment
    "security",
    "e2ee_reference",  # a pointer to ciphertext the server cannot read
    "technical",
    "none",  # no personal data (reference tables)
]
Basis = Literal["contract", "legal_obligation", "legitimate_interest", "none"]
Retention = Literal[
    "financial_record",  # the region policy's period for payment records; kept through erasure
    "account",  # deleted when the account is erased
    "30d",
    "done+90d",
    "while_used",
]


@dataclass(frozen=True, slots=True)
class Declaration:
    category: Category
    purpose: str
    basis: tuple[Basis, ...]
    retention: Retention


def declare(
    columns: str, category: Category, purpose: str, basis: tuple[Basis, ...], retention: Retention
) -> dict[str, Declaration]:
    """The same declaration for each of the space-separated ``columns``."""
    declaration = Declaration(category, purpose, basis, retention)
    return dict.fromkeys(columns.split(), declaration)
