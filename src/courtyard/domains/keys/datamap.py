"""What the keys domain stores and why: each device's public keys (docs/data-map.md). The
private keys never leave the devices."""

from __future__ import annotations

from courtyard.core.datamap import DataMap, by_user, declare, table

PUBLIC_KEYS = (
    "let other devices encrypt to your devices and check who they are talking to (public keys only)"
)

KEYS_DATA_MAP: DataMap = {
    "device_keys": table(
        by_user("user_id"),
        declare(
            "user_id device_id curve25519 ed25519 algorithms signed uploaded_at",
            "device",
            PUBLIC_KEYS,
            ("contract",),
            "while_used",
        ),
    ),
    "one_time_keys": table(
        by_user("user_id"),
        declare(
            "user_id device_id key_id key signed created_at",
            "device",
            PUBLIC_KEYS + "; each is deleted when another device claims it",
            ("contract",),
            "while_used",
        ),
    ),
    "fallback_keys": table(
        by_user("user_id"),
        declare(
            "user_id device_id key_id key signed used created_at",
            "device",
            PUBLIC_KEYS + ", when its one-time keys have run out",
            ("contract",),
            "while_used",
        ),
    ),
}
