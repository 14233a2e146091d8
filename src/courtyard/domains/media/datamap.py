"""What the media domain stores and why: facts about encrypted attachments; the blobs (in the
blob store, not the database) are ciphertext whose keys travel only inside encrypted messages
(docs/data-map.md)."""

from __future__ import annotations

from courtyard.core.datamap import DataMap, by_user, declare, table

MEDIA_DATA_MAP: DataMap = {
    "media": table(
        by_user("user_id"),
        declare(
            "media_id size sha256 content_type created_at",
            "e2ee_reference",
            "store your attachments: the size and hash of the ciphertext (the server cannot "
            "open it; the real file type is inside the encrypted message)",
            ("contract",),
            "account",
        ),
        declare(
            "user_id",
            "identifier",
            "know who uploaded an attachment, so only they can delete it",
            ("contract",),
            "account",
        ),
    ),
}
