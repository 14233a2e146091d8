"""Your rights: erasure with its 30-day grace, complaints and notices (docs/user-rights.md).
Privacy mixes this in."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from courtyard.client.client import Client


class PrivacyRights:
    """Methods of ``client.privacy``."""

    client: Client
