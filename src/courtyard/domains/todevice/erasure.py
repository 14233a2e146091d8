"""What erasing an account does to the to-device queue: messages to and from the user's
devices, and their transaction ids, go (docs/user-rights.md)."""

from __future__ import annotations

from sqlalchemy import delete, or_

from courtyard.db import Tx
from courtyard.domains.todevice.models import ToDeviceMessage, ToDeviceTxn


async def erase_todevice_user(tx: Tx, user_id: str) -> dict[str, int]:
    """Delete queued messages the user was sent or sent (a recipient's hint for a deleted
    message is passed on without one, as for an acknowledged message), and the user's
    transaction ids; rows deleted per table."""
    inbox = await tx.session.execute(
        delete(ToDeviceMessage).where(
            or_(ToDeviceMessage.user_id == user_id, ToDeviceMessage.sender_user_id == user_id)
        )
    )
    txns = await tx.session.execute(delete(ToDeviceTxn).where(ToDeviceTxn.user_id == user_id))
    return {
        "to_device_inbox": int(getattr(inbox, "rowcount", 0) or 0),
        "to_device_txns": int(getattr(txns, "rowcount", 0) or 0),
    }
