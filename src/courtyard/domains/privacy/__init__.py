"""Privacy: region policies and consent, the data map, user rights (export, erasure,
complaints), retention and legal holds (docs/privacy.md)."""

from courtyard.domains.privacy.holds import get_active_holds, place_hold, release_hold
from courtyard.domains.privacy.notices import NOTICE_KINDS, add_user_notice, get_user_notices

__all__ = [
    "NOTICE_KINDS",
    "add_user_notice",
    "get_active_holds",
    "get_user_notices",
    "place_hold",
    "release_hold",
]
