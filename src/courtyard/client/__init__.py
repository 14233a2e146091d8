"""The Courtyard SDK: an async client that speaks only the public wire protocol."""

from courtyard.client.client import Client, SyncMode
from courtyard.client.errors import (
    ApiError,
    AuthError,
    ClientError,
    ConsentRequired,
    ProtocolError,
    RateLimited,
    Unreachable,
)
from courtyard.client.media import MediaInfo, MediaMixin
from courtyard.client.messenger import Messenger
from courtyard.client.models import Account, Device, KeyCounts, Session, SyncEvent, UserInfo
from courtyard.client.profile import Profile, ProfileError, StoredSession
from courtyard.client.sync import Backoff

__all__ = [
    "Account",
    "ApiError",
    "AuthError",
    "Backoff",
    "Client",
    "ClientError",
    "ConsentRequired",
    "Device",
    "KeyCounts",
    "MediaInfo",
    "MediaMixin",
    "Messenger",
    "Profile",
    "ProfileError",
    "ProtocolError",
    "RateLimited",
    "Session",
    "StoredSession",
    "SyncEvent",
    "SyncMode",
    "Unreachable",
    "UserInfo",
]
