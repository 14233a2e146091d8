"""Wire shapes and values of the media API."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pydantic import BaseModel, Field

OCTET_STREAM = "application/octet-stream"


class MediaUploaded(BaseModel):
    """What the server stored; put `media_id` (with the key and hash) in the encrypted message."""

    media_id: str = Field(description="The blob's id; whoever knows it can download it.")
    size: int = Field(description="Bytes stored (the ciphertext's length).")
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="Hex SHA-256 of the stored (encrypted) bytes; also the download's ETag.",
    )


@dataclass(frozen=True)
class MediaMeta:
    """What the server knows about a stored blob (never what it contains)."""

    media_id: str
    user_id: str
    size: int
    sha256: str
    content_type: str
    created_at: dt.datetime
