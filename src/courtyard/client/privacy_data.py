"""Your data: export it (JSON or HTML), read the access log of who touched it (docs/data-map.md).
Privacy mixes this in."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from courtyard.client.client import Client


class PrivacyData:
    """Methods of ``client.privacy``."""

    client: Client
