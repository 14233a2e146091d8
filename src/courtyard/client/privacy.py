"""The privacy center in the SDK, reached as ``client.privacy`` (docs/privacy.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from courtyard.client.privacy_consent import PrivacyConsent
from courtyard.client.privacy_data import PrivacyData
from courtyard.client.privacy_rights import PrivacyRights

if TYPE_CHECKING:
    from courtyard.client.client import Client


class Privacy(PrivacyConsent, PrivacyData, PrivacyRights):
    """Policies and consent, your data and your rights, for the signed-in user."""

    def __init__(self, client: Client) -> None:
        self.client = client
