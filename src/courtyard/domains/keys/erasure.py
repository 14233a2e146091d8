"""What erasing an account does to the keys domain: every device's keys go (the foreign keys
to ``devices`` would cascade; deleting them here says so explicitly)."""

from __future__ import annotations

from sqlalchemy import delete

from courtyard.db import Tx
from courtyard.domains.keys.models import DeviceKeys, FallbackKey, OneTimeKey


async def erase_keys_user(tx: Tx, user_id: str) -> dict[str, int]:
    """Delete the user's identity, one-time and fallback keys; rows deleted per table."""
    counts: dict[str, int] = {}
    for model in (OneTimeKey, FallbackKey, DeviceKeys):
        result = await tx.session.execute(delete(model).where(model.user_id == user_id))
        counts[model.__tablename__] = int(getattr(result, "rowcount", 0) or 0)
    return counts
