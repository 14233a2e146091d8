"""Policies and consent: read your region's policy and what changed, consent, give or withdraw
each purpose (docs/privacy-consent.md). Privacy mixes this in."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from courtyard.client.client import Client


class PrivacyConsent:
    """Methods of ``client.privacy``."""

    client: Client
