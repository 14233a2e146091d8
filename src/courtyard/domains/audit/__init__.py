"""The audit log: an append-only, RFC 6962 Merkle log of every admin, legal and data-access
action, with signed tree heads (docs/audit-log.md)."""

from courtyard.domains.audit.append import append_audit_entry
from courtyard.domains.audit.entries import (
    AuditEntryView,
    EntryFilter,
    get_entries,
    read_entries,
)
from courtyard.domains.audit.errors import AuditLogBroken, InvalidTreeSize, NoTreeHead
from courtyard.domains.audit.leaves import encode_entry, leaf_hash, node_hash
from courtyard.domains.audit.models import AuditEntry, AuditLogHead, AuditTreeHead
from courtyard.domains.audit.report import KINDS, Finding, VerifyReport
from courtyard.domains.audit.service import AuditLog, get_latest_head
from courtyard.domains.audit.signing import (
    KEY_FILE_NAME,
    AuditKeyring,
    SignedHead,
    key_id_for,
    public_key_from_raw,
    raw_public_key,
    verify_head,
)
from courtyard.domains.audit.verify import verify_log

__all__ = [
    "KEY_FILE_NAME",
    "KINDS",
    "AuditEntry",
    "AuditEntryView",
    "AuditKeyring",
    "AuditLog",
    "AuditLogBroken",
    "AuditLogHead",
    "AuditTreeHead",
    "EntryFilter",
    "Finding",
    "InvalidTreeSize",
    "NoTreeHead",
    "SignedHead",
    "VerifyReport",
    "append_audit_entry",
    "encode_entry",
    "get_entries",
    "get_latest_head",
    "key_id_for",
    "leaf_hash",
    "node_hash",
    "public_key_from_raw",
    "raw_public_key",
    "read_entries",
    "verify_head",
    "verify_log",
]
