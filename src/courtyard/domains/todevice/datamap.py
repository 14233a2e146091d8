"""What the to-device domain stores and why: Olm-encrypted messages queued for one device
(keys for conversations, verification), deleted once delivered (docs/data-map.md)."""

from __future__ import annotations

from courtyard.core.datamap import DataMap, by_user, declare, table

TODEVICE_DATA_MAP: DataMap = {
    "to_device_inbox": table(
        by_user("user_id", "sender_user_id"),
        declare(
            "user_id device_id seq sender_user_id sender_device_id created_at",
            "e2ee_reference",
            "deliver a device-to-device message: which device sent it to which, and when",
            ("contract",),
            "until_delivered",
        ),
        declare(
            "content",
            "e2ee_content",
            "the message itself, Olm-encrypted for the receiving device alone",
            ("contract",),
            "until_delivered",
        ),
    ),
    "to_device_txns": table(
        by_user("user_id"),
        declare(
            "user_id device_id txn_id created_at",
            "technical",
            "apply a retried send once",
            ("contract",),
            "30d",
        ),
    ),
}
