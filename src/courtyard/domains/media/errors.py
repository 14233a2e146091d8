"""Errors of the media domain."""

from __future__ import annotations

from courtyard.core.errors import InvalidInput, NotFound, PayloadTooLarge


class MediaNotFound(NotFound):
    """No such blob; also what a non-uploader gets when trying to delete one."""

    code = "media_not_found"
    title = "No such media"


class MediaTooLarge(PayloadTooLarge):
    code = "payload_too_large"
    title = "The upload is larger than the server accepts"


class InvalidMediaType(InvalidInput):
    """Uploads are ciphertext: a real content type would tell the server what they hold."""

    code = "invalid_media_type"
    title = "Uploads must be sent as application/octet-stream"


class EmptyMedia(InvalidInput):
    code = "empty_media"
    title = "The upload is empty"


class ContentLengthMismatch(InvalidInput):
    code = "content_length_mismatch"
    title = "The body does not have the length the Content-Length header declared"


class UploadIncomplete(InvalidInput):
    code = "upload_incomplete"
    title = "The client disconnected before the upload was complete"
