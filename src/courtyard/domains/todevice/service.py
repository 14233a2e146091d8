"""Queue Olm envelopes for devices and hand them to exactly that device through sync."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from courtyard.core.clock import Clock
from courtyard.core.wire import first_problem
from courtyard.db import Database
from courtyard.domains.accounts import Identity, existing_devices
from courtyard.domains.todevice.errors import NotOlmEncrypted
from courtyard.domains.todevice.models import ToDeviceMessage, ToDeviceTxn
from courtyard.domains.todevice.schemas import (
    DeviceRef,
    OlmEnvelope,
    SendToDeviceRequest,
    SendToDeviceResult,
)
from courtyard.streams import StreamStore

TO_DEVICE_EVENT = "to_device"
TXN_RETENTION = dt.timedelta(days=1)


class ToDeviceService:
    def __init__(self, db: Database, streams: StreamStore, clock: Clock) -> None:
        self.db = db
        self.streams = streams
        self.clock = clock

    async def do_send(self, sender: Identity, request: SendToDeviceRequest) -> SendToDeviceResult:
        """Queue every message for its device, once per ``txn_id``, in one transaction.

        Each queued message appends a content-free hint to the recipient's stream; the
        envelope itself is served only to the recipient device.
        """
        envelopes = [_check_envelope(i, item.content) for i, item in enumerate(request.messages)]
        targets = {(m.user_id, m.device_id) for m in request.messages}
        now = self.clock.now()
        try:
            async with self.db.transaction() as tx:
                tx.session.add(
                    ToDeviceTxn(
                        user_id=sender.user_id,
                        device_id=sender.device_id,
                        txn_id=request.txn_id,
                        created_at=now,
                    )
                )
                await tx.session.flush()
                existing = await existing_devices(tx.session, targets)
                queued, undelivered = 0, []
                for item, envelope in zip(request.messages, envelopes, strict=True):
                    if (item.user_id, item.device_id) not in existing:
                        undelivered.append(
                            DeviceRef(user_id=item.user_id, device_id=item.device_id)
                        )
                        continue
                    seq = await self.streams.append(
                        tx,
                        item.user_id,
                        TO_DEVICE_EVENT,
                        {
                            "device_id": item.device_id,
                            "sender_user_id": sender.user_id,
                            "sender_device_id": sender.device_id,
                        },
                    )
                    await tx.session.execute(
                        insert(ToDeviceMessage).values(
                            user_id=item.user_id,
                            device_id=item.device_id,
                            seq=seq,
                            sender_user_id=sender.user_id,
                            sender_device_id=sender.device_id,
                            content=envelope,
                            created_at=now,
                        )
                    )
                    queued += 1
        except IntegrityError:
            # The txn row already exists: this is a retry of a send that was applied.
            return SendToDeviceResult(queued=0, undelivered=[], replayed=True)
        return SendToDeviceResult(queued=queued, undelivered=undelivered, replayed=False)

    async def attach_messages(
        self, identity: Identity, events: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Put each ``to_device`` hint's envelope into it, for the recipient device only.

        Hints for the user's other devices stay content-free; a hint whose message was
        already acknowledged (and so deleted) is passed on without one.
        """
        mine = [
            e["position"]
            for e in events
            if e["type"] == TO_DEVICE_EVENT and e["content"].get("device_id") == identity.device_id
        ]
        if not mine:
            return events
        async with self.db.read() as session:
            rows = await session.execute(
                select(ToDeviceMessage.seq, ToDeviceMessage.content).where(
                    ToDeviceMessage.user_id == identity.user_id,
                    ToDeviceMessage.device_id == identity.device_id,
                    ToDeviceMessage.seq.in_(mine),
                )
            )
            by_seq: dict[int, Any] = {row.seq: row.content for row in rows}
        for event in events:
            if event["position"] in by_seq:
                event["content"] = {**event["content"], "message": by_seq[event["position"]]}
        return events

    async def do_acknowledge(self, identity: Identity, position: int) -> None:
        """Delete the device's messages up to ``position``: it has them."""
        async with self.db.transaction() as tx:
            await tx.session.execute(
                delete(ToDeviceMessage).where(
                    ToDeviceMessage.user_id == identity.user_id,
                    ToDeviceMessage.device_id == identity.device_id,
                    ToDeviceMessage.seq <= position,
                )
            )

    async def purge_txns(self) -> int:
        """Forget transaction ids older than a day (retries come within seconds)."""
        cutoff = self.clock.now() - TXN_RETENTION
        async with self.db.transaction() as tx:
            result = await tx.session.execute(
                delete(ToDeviceTxn).where(ToDeviceTxn.created_at < cutoff)
            )
        return int(getattr(result, "rowcount", 0) or 0)


def _check_envelope(index: int, content: dict[str, Any]) -> dict[str, Any]:
    try:
        return OlmEnvelope.model_validate(content).model_dump()
    except ValidationError as exc:
        raise NotOlmEncrypted(
            f"messages[{index}].content is not an Olm envelope ({first_problem(exc)})"
        ) from None
