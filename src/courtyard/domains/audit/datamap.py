"""What the audit log stores and why (docs/audit-log.md, docs/data-map.md). Entries are never
deleted or changed, not even by erasure: removing one would break every proof over the log."""

from __future__ import annotations

from courtyard.core.datamap import Basis, DataMap, by_user, declare, no_subject, table

OVERSIGHT: tuple[Basis, ...] = ("legal_obligation", "legitimate_interest")

AUDIT_DATA_MAP: DataMap = {
    "audit_log": table(
        by_user("subject_user_id"),
        declare(
            "seq entry_id at actor action target subject_user_id note detail",
            "security",
            "prove who (operator, legal desk, mini-app or the system) looked at or changed "
            "whose data, when and why; your access log shows the entries about you",
            OVERSIGHT,
            "audit_log",
        ),
        declare(
            "leaf_hash",
            "technical",
            "link each entry into the Merkle tree, so any edit, deletion or reordering shows",
            OVERSIGHT,
            "audit_log",
        ),
    ),
    "audit_log_head": table(
        no_subject("one counter row: the next entry's position"),
        declare(
            "head_id size",
            "none",
            "hand out gap-free positions, one append at a time",
            OVERSIGHT,
            "audit_log",
        ),
    ),
    "audit_tree_heads": table(
        no_subject("signed sizes and roots of the whole log, published to everyone"),
        declare(
            "tree_size root_hash signed_at key_id signature",
            "none",
            "let anyone check that the log only ever grew (signed with a key kept outside "
            "the database)",
            OVERSIGHT,
            "audit_log",
        ),
    ),
}
