"""Erasing one user, domain by domain, inside the erase job's transaction
(docs/user-rights.md, "What erasure does to each table"). Each domain says what erasure does
to its own tables; this module only calls them in order and deletes the privacy domain's."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete

from courtyard.db import Tx
from courtyard.domains.accounts import erase_account, get_account_facts
from courtyard.domains.keys import erase_keys_user
from courtyard.domains.media import BlobStore, erase_media_user
from courtyard.domains.messaging import Timeline, erase_messaging_user
from courtyard.domains.privacy.models import PurposeConsent, UserConsent, UserNotice
from courtyard.domains.todevice import erase_todevice_user
from courtyard.domains.wallet import pseudonymise_wallet_user
from courtyard.streams import StreamEvent, StreamHead

# What erasure does to every table that holds a user's id; a test checks this covers every
# table whose data map subject names a user column, and scans the database after an erasure.
ERASED = "deleted"
PSEUDONYMISED = "pseudonymised"
KEPT = "kept"
DELETED_TABLES = (
    "users", "usernames", "devices", "access_tokens", "login_failures", "device_keys",
    "one_time_keys", "fallback_keys", "to_device_inbox", "to_device_txns", "media",
    "conversation_members", "user_conversations", "direct_conversations", "message_txns",
    "stream_events", "stream_heads", "wallet_pins", "wallet_idempotency", "user_consents",
    "purpose_consents", "user_notices",
    # Tombstoned: the ciphertext goes, the event keeps its place (and its sender's id).
    "timeline_events",
)  # fmt: skip
PSEUDONYMISED_TABLES = (
    "ledger_accounts", "ledger_account_keys", "transfers", "red_packets", "red_packet_shares",
    "provider_operations", "payments", "payment_refunds", "bill_payments", "merchants",
    "wallet_user_flows",
)  # fmt: skip
# Records that must not change, or evidence the data map keeps past the account.
KEPT_TABLES = (
    "ledger_entries", "ledger_postings", "audit_log", "erasure_requests",
    "consent_records", "complaints", "legal_holds", "legal_case_targets", "conversations",
)  # fmt: skip
TABLE_ACTIONS: dict[str, str] = {
    **dict.fromkeys(DELETED_TABLES, ERASED),
    **dict.fromkeys(PSEUDONYMISED_TABLES, PSEUDONYMISED),
    **dict.fromkeys(KEPT_TABLES, KEPT),
}


@dataclass(frozen=True, slots=True)
class ErasureTools:
    """What erasure needs from the node: the timeline (to tell members) and the blob store."""

    timeline: Timeline
    blobs: BlobStore


async def erase_user(tx: Tx, tools: ErasureTools, user_id: str, pseudonym: str) -> dict[str, int]:
    """Erase ``user_id`` in ``tx``; returns rows deleted, tombstoned or pseudonymised per
    table (the detail of the audit entry)."""
    facts = await get_account_facts(tx, user_id)
    counts: dict[str, int] = {}
    steps = (
        await erase_messaging_user(tx, tools.timeline, user_id, facts.device_ids),
        await erase_todevice_user(tx, user_id),
        await erase_keys_user(tx, user_id),
        await erase_media_user(tx, tools.blobs, user_id),
        await pseudonymise_wallet_user(tx, user_id, pseudonym),
        await _erase_privacy_rows(tx, user_id),
        await _drop_stream(tx, user_id),
        await erase_account(tx, user_id, facts.username),
    )
    for step in steps:
        counts.update(step)
    return {table: n for table, n in sorted(counts.items()) if n}


async def _erase_privacy_rows(tx: Tx, user_id: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    # Consent records and complaints are evidence (kept, as the data map declares).
    for model in (UserConsent, PurposeConsent, UserNotice):
        result = await tx.session.execute(delete(model).where(model.user_id == user_id))
        counts[model.__tablename__] = int(getattr(result, "rowcount", 0) or 0)
    return counts


async def _drop_stream(tx: Tx, user_id: str) -> dict[str, int]:
    events = await tx.session.execute(delete(StreamEvent).where(StreamEvent.user_id == user_id))
    heads = await tx.session.execute(delete(StreamHead).where(StreamHead.user_id == user_id))
    return {
        "stream_events": int(getattr(events, "rowcount", 0) or 0),
        "stream_heads": int(getattr(heads, "rowcount", 0) or 0),
    }
