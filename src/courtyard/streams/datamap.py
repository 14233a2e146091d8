"""What the streams store and why: the facts each user's devices must learn, in order
(docs/data-map.md)."""

from __future__ import annotations

from courtyard.core.datamap import DataMap, by_user, declare, table

STREAMS_DATA_MAP: DataMap = {
    "stream_heads": table(
        by_user("user_id"),
        declare(
            "user_id position",
            "technical",
            "number what your devices learn, so none is lost or seen twice",
            ("contract",),
            "account",
        ),
    ),
    "stream_events": table(
        by_user("user_id"),
        declare(
            "user_id position event_id type created_at",
            "technical",
            "deliver to your devices what they must learn, in order",
            ("contract",),
            "account",
        ),
        declare(
            "content",
            "technical",
            "the fact itself: a copy of a conversation event (message content stays "
            "ciphertext), a key, device, wallet or policy notice",
            ("contract",),
            "account",
        ),
    ),
}
