"""Building the desk from the settings: the rules file, the signing key and the blob store."""

from __future__ import annotations

from pathlib import Path

from courtyard.core.clock import Clock
from courtyard.core.config import Settings
from courtyard.db import Database
from courtyard.domains.legal.rules import load_rules
from courtyard.domains.legal.service import LegalDesk
from courtyard.domains.legal.signing import PackageSigner
from courtyard.domains.media import BlobStore, FileBlobStore


def legal_desk_for(
    settings: Settings, db: Database, clock: Clock, blobs: BlobStore | None = None
) -> LegalDesk:
    """The desk as ``settings`` configure it: its rules (``ConfigError`` if invalid), its
    signing key (made on first use) and the media blob store it reads content from."""
    key_file: Path = settings.legal_signing_key_file or settings.data_dir / "legal-signing-key"
    return LegalDesk(
        db,
        clock,
        load_rules(settings.legal_rules_path),
        PackageSigner.from_file(key_file),
        blobs or FileBlobStore(settings.data_dir / "media"),
    )
