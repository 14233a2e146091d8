"""Conversations (1:1 and groups) and their end-to-end encrypted timelines."""

from courtyard.domains.messaging.batch_store import BatchStore, StreamRow, sqlite_time, store_for
from courtyard.domains.messaging.disclosure import get_message_envelopes, get_message_metadata
from courtyard.domains.messaging.erasure import erase_messaging_user
from courtyard.domains.messaging.messages import MessagesService
from courtyard.domains.messaging.schemas import (
    Admission,
    ConversationOut,
    CreateConversation,
    EventOut,
    HistoryOut,
    Invite,
    MegolmEnvelope,
    ReadReceipt,
    Rename,
    SendMessage,
    SentOut,
    SetRole,
    Typing,
)
from courtyard.domains.messaging.sending import SendRate
from courtyard.domains.messaging.service import ConversationsService
from courtyard.domains.messaging.timeline import CONVERSATION_EVENT, Timeline, columns_to_wire

__all__ = [
    "CONVERSATION_EVENT",
    "Admission",
    "BatchStore",
    "ConversationOut",
    "ConversationsService",
    "CreateConversation",
    "EventOut",
    "HistoryOut",
    "Invite",
    "MegolmEnvelope",
    "MessagesService",
    "ReadReceipt",
    "Rename",
    "SendMessage",
    "SendRate",
    "SentOut",
    "SetRole",
    "StreamRow",
    "Timeline",
    "Typing",
    "columns_to_wire",
    "erase_messaging_user",
    "get_message_envelopes",
    "get_message_metadata",
    "sqlite_time",
    "store_for",
]
