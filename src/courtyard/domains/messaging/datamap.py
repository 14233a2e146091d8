"""What the messaging domain stores and why: conversations, who is in them, and the timeline
of encrypted messages (docs/data-map.md). Message content is Megolm ciphertext the server
cannot read; a group's name is not encrypted."""

from __future__ import annotations

from courtyard.core.datamap import Basis, DataMap, by_user, declare, table, through

CONTRACT: tuple[Basis, ...] = ("contract",)
VIA_MEMBERSHIP = (through("conversation_id", "conversation_members"),)

MESSAGING_DATA_MAP: DataMap = {
    "conversations": table(
        by_user("created_by", links=VIA_MEMBERSHIP),
        declare(
            "conversation_id kind created_by created_at last_seq",
            "contact",
            "the conversations you are in: direct or group, who started it, when",
            CONTRACT,
            "account",
        ),
        declare(
            "name",
            "contact",
            "a group's name, as its members set it (not end-to-end encrypted)",
            CONTRACT,
            "account",
        ),
    ),
    "direct_conversations": table(
        by_user(links=VIA_MEMBERSHIP),
        declare(
            "pair_key conversation_id",
            "contact",
            "find the one direct conversation between two people",
            CONTRACT,
            "account",
        ),
    ),
    "conversation_members": table(
        by_user("user_id"),
        declare(
            "conversation_id user_id state role since_seq read_seq invited_by updated_at",
            "contact",
            "who is in which conversation, with what role, who invited them, what they have "
            "read, and from where their history starts",
            CONTRACT,
            "account",
        ),
        declare(
            "admission",
            "security",
            "the inviter's signed say-so, which members' devices check so that the server "
            "cannot add anyone on its own",
            ("contract", "legitimate_interest"),
            "account",
        ),
    ),
    "user_conversations": table(
        by_user("user_id"),
        declare(
            "user_id conversation_id state",
            "contact",
            "list your conversations quickly",
            CONTRACT,
            "account",
        ),
    ),
    "timeline_events": table(
        by_user("sender_user_id"),
        declare(
            "conversation_id seq event_id type sender_user_id sender_device_id recalled created_at",
            "e2ee_reference",
            "order a conversation's messages: who sent each, from which device, when, and "
            "whether it was recalled",
            CONTRACT,
            "account",
        ),
        declare(
            "content",
            "e2ee_content",
            "the message itself, Megolm-encrypted on the sending device (membership and "
            "settings events the server writes are plain)",
            CONTRACT,
            "account",
        ),
    ),
    "message_txns": table(
        by_user(links=(through("sender_device_id", "devices", "device_id"),)),
        declare(
            "conversation_id sender_device_id txn_id seq created_at",
            "technical",
            "make a retried send land once",
            CONTRACT,
            "account",
        ),
    ),
}
