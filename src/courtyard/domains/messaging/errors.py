"""Errors of the messaging domain."""

from __future__ import annotations

from courtyard.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied


class ConversationNotFound(NotFound):
    """Also what a non-member gets, so conversation ids reveal nothing."""

    code = "conversation_not_found"
    title = "No such conversation"


class NotAMember(PermissionDenied):
    code = "not_a_member"
    title = "Only joined members can do that"


class NotAllowed(PermissionDenied):
    code = "not_allowed"
    title = "Your role in this conversation does not allow that"


class NotMegolmEncrypted(InvalidInput):
    code = "not_megolm_encrypted"
    title = "Conversation messages must be Megolm-encrypted"


class ConversationFull(Conflict):
    code = "conversation_full"
    title = "The conversation has reached its member limit"


class UnknownUser(InvalidInput):
    code = "unknown_user"
    title = "A named user does not exist"


class RecallExpired(PermissionDenied):
    code = "recall_expired"
    title = "Messages can be recalled only within 2 minutes"


class MessageNotFound(NotFound):
    code = "message_not_found"
    title = "No such message"


class InvalidMembership(Conflict):
    code = "invalid_membership"
    title = "That membership change is not possible now"


class ConversationExists(Conflict):
    code = "conversation_exists"
    title = "A conversation with that id exists"


class InvalidAdmission(InvalidInput):
    code = "invalid_admission"
    title = "The admission does not describe this request"
