"""The data map's vocabulary: what a stored column holds, why, on what lawful basis and for how
long, and how a table's rows belong to a user (docs/data-map.md).

Each domain declares its tables in ``domains/<name>/datamap.py`` as ``{table: TableMap}``:

    "media": table(
        by_user("user_id"),
        declare("media_id size sha256 content_type created_at", "e2ee_reference", ...),
        declare("user_id", "identifier", ...),
    )

The registry (``domains/privacy/datamap_registry.py``) joins them; a test fails on any column
of any model that is not declared. The privacy policy's data section and each user's export
are generated from the map, so neither can drift from the schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Category = Literal[
    "identifier",  # pseudonymous ids
    "profile",  # username, display name, registration region
    "contact",  # who you talk to: conversations, memberships, counterparties
    "device",  # your devices and their public keys
    "credential",  # password and PIN hashes, token hashes: never exported
    "security",  # throttles, locks, sessions, records of who did what
    "e2ee_content",  # ciphertext the server stores but cannot read
    "e2ee_reference",  # a pointer to ciphertext, or facts about it (size, hash)
    "financial",
    "financial_counterparty",  # about a third party, needed for a payment
    "consent",  # what you agreed to, when, from which device
    "rights",  # your requests about your data: erasure, complaints, notices
    "legal",  # lawful requests and legal holds
    "technical",
    "none",  # no personal data (reference tables, published texts)
]
Basis = Literal["consent", "contract", "legal_obligation", "legitimate_interest", "none"]
Retention = Literal[
    "financial_record",  # the region policy's period for payment records; kept through erasure
    "account",  # deleted when the account is erased
    "30d",
    "done+90d",
    "while_used",  # deleted when no longer used (a signed-out session, a removed device)
    "until_delivered",  # deleted once the receiving device acknowledges it
    "throttle_window",  # deleted after the login throttle's window (minutes)
    "evidence",  # kept after the account ends, for the limitation period of claims
    "legal_record",  # kept for the region's period after the case closes or the hold ends
    "audit_log",  # never deleted: an append-only, hash-linked log (deleting breaks proofs)
    "published",  # public documents (policy texts), kept for good
]


@dataclass(frozen=True, slots=True)
class Declaration:
    category: Category
    purpose: str
    basis: tuple[Basis, ...]
    retention: Retention


@dataclass(frozen=True, slots=True)
class Link:
    """A row belongs to a user when its ``column`` equals ``key`` of a row of ``table`` that
    belongs to them (postings through their ledger account, a conversation through a
    membership)."""

    column: str
    table: str
    key: str


@dataclass(frozen=True, slots=True)
class Subject:
    """How a table's rows belong to a user, which drives export and erasure.

    ``columns`` hold the user's id (a row is theirs if any of them does: erasure deletes or
    pseudonymises exactly these); ``links`` reach rows through another table. Neither means
    the rows belong to no one user, for the reason in ``note``. ``withheld`` says why the
    export leaves the rows out although they are about the user (a lawful request's target
    list), so the export's manifest can say so without saying whether any exist."""

    columns: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    note: str = ""
    withheld: str | None = None

    @property
    def personal(self) -> bool:
        return bool(self.columns or self.links)


@dataclass(frozen=True, slots=True)
class TableMap:
    """One table: how its rows belong to a user, and each column's declaration."""

    subject: Subject
    columns: Mapping[str, Declaration] = field(default_factory=dict)


DataMap = dict[str, TableMap]


def declare(
    columns: str, category: Category, purpose: str, basis: tuple[Basis, ...], retention: Retention
) -> dict[str, Declaration]:
    """The same declaration for each of the space-separated ``columns``."""
    declaration = Declaration(category, purpose, basis, retention)
    return dict.fromkeys(columns.split(), declaration)


def table(subject: Subject, *groups: dict[str, Declaration]) -> TableMap:
    """A table's map from its subject and groups of ``declare`` d columns; a column declared
    twice is a mistake."""
    columns: dict[str, Declaration] = {}
    for group in groups:
        twice = columns.keys() & group.keys()
        if twice:
            raise ValueError(f"declared twice: {sorted(twice)}")
        columns.update(group)
    return TableMap(subject, columns)


def by_user(*columns: str, links: tuple[Link, ...] = (), withheld: str | None = None) -> Subject:
    """Rows are the user's whose id is in any of ``columns`` (or reached through ``links``)."""
    return Subject(columns=columns, links=links, withheld=withheld)


def through(column: str, table: str, key: str | None = None) -> Link:
    """A link from ``column`` to ``table.key`` (``key`` defaults to the same name)."""
    return Link(column, table, key or column)


def no_subject(note: str) -> Subject:
    """Rows that belong to no one user, and why."""
    return Subject(note=note)
