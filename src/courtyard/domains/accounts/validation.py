"""Checks on what people type: usernames, display names, regions."""

from __future__ import annotations

import re
import unicodedata

from courtyard.core.errors import InvalidInput
from courtyard.core.regions import is_country_code
from courtyard.domains.accounts.errors import InvalidRegion, InvalidUsername

USERNAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{2,31}$")
DISPLAY_NAME_MAX = 64


def check_username(username: str) -> str:
    """Return the canonical (NFKC, lower-case) username or raise ``InvalidUsername``."""
    canonical = unicodedata.normalize("NFKC", username).strip().lower()
    if not USERNAME_RE.fullmatch(canonical):
        raise InvalidUsername(
            "Usernames have 3 to 32 characters: a letter first, then letters, digits, '_', '.' "
            "or '-'."
        )
    return canonical


def check_display_name(name: str, *, field: str = "display_name") -> str:
    """Return the trimmed name or raise ``InvalidInput``: 1 to 64 printable characters."""
    cleaned = unicodedata.normalize("NFC", name).strip()
    if not cleaned or len(cleaned) > DISPLAY_NAME_MAX:
        raise InvalidInput(f"{field} must have 1 to {DISPLAY_NAME_MAX} characters.", field=field)
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn"} for ch in cleaned):
        raise InvalidInput(
            f"{field} must not contain control or unassigned characters.", field=field
        )
    return cleaned


def check_region(region: str) -> str:
    """Return the upper-case ISO 3166-1 alpha-2 code or raise ``InvalidRegion``."""
    code = region.strip().upper()
    if not is_country_code(code):
        raise InvalidRegion(f"{region!r} is not an ISO 3166-1 alpha-2 country code.")
    return code
