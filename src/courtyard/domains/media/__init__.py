"""Media: client-encrypted blobs (attachments, images, voice notes) the server stores opaquely."""

from courtyard.domains.media.disclosure import get_user_media, read_stored_blob
from courtyard.domains.media.erasure import erase_media_user
from courtyard.domains.media.errors import (
    ContentLengthMismatch,
    EmptyMedia,
    InvalidMediaType,
    MediaNotFound,
    MediaTooLarge,
    UploadIncomplete,
)
from courtyard.domains.media.schemas import OCTET_STREAM, MediaMeta, MediaUploaded
from courtyard.domains.media.service import MediaService, check_content_type
from courtyard.domains.media.store import BlobStore, FileBlobStore, StoredBlob

__all__ = [
    "OCTET_STREAM",
    "BlobStore",
    "ContentLengthMismatch",
    "EmptyMedia",
    "FileBlobStore",
    "InvalidMediaType",
    "MediaMeta",
    "MediaNotFound",
    "MediaService",
    "MediaTooLarge",
    "MediaUploaded",
    "StoredBlob",
    "UploadIncomplete",
    "check_content_type",
    "erase_media_user",
    "get_user_media",
    "read_stored_blob",
]
