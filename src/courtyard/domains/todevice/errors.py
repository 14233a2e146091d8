"""Errors of the to-device domain."""

from __future__ import annotations

from courtyard.core.errors import InvalidInput


class NotOlmEncrypted(InvalidInput):
    """Only Olm envelopes may travel device to device (Albrecht et al., S&P 2023)."""

    code = "not_olm_encrypted"
    title = "To-device messages must be Olm-encrypted"
