"""Privacy: region policies and consent, the data map, user rights (export, erasure,
complaints), retention and legal holds (docs/privacy.md)."""

from courtyard.domains.privacy.holds import get_active_holds, place_hold, release_hold

__all__ = ["get_active_holds", "place_hold", "release_hold"]
