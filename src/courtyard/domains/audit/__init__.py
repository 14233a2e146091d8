"""The audit log: an append-only, RFC 6962 Merkle log of every admin, legal and data-access
action, with signed tree heads (docs/audit-log.md)."""

from courtyard.domains.audit.append import append_audit_entry
from courtyard.domains.audit.leaves import encode_entry, leaf_hash, node_hash
from courtyard.domains.audit.models import AuditEntry, AuditLogHead, AuditTreeHead

__all__ = [
    "AuditEntry",
    "AuditLogHead",
    "AuditTreeHead",
    "append_audit_entry",
    "encode_entry",
    "leaf_hash",
    "node_hash",
]
