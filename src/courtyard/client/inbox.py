"""Turn sync events into local state: room keys from Olm, decrypted messages into history.

Events that arrive before their room key are kept (on disk) and retried when a key for that
session arrives. Each timeline event is handled once, by event id; an event that fails a
check is recorded as failed, never shown. Wallet cards (``m.wallet.*``) are written by the
server in plaintext, not by a member's device: they are kept as cards, not decrypted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from courtyard.client.client import Client
from courtyard.client.crypto import CryptoError, DeviceCrypto, MissingSessionKey
from courtyard.client.crypto.device import ROOM_KEY
from courtyard.client.history import History
from courtyard.client.models import SyncEvent
from courtyard.client.wallet_models import money

log = logging.getLogger(__name__)

MESSAGE_TYPES = frozenset({"m.text", "m.file", "m.image", "m.voice"})
TIMELINE = "conversation.event"
TRANSFER_CARD = "m.wallet.transfer"
RED_PACKET_CARD = "m.wallet.red_packet"
# Card type -> the content field naming the flow; a flow's events make one card.
CARD_IDS = {TRANSFER_CARD: "transfer_id", RED_PACKET_CARD: "packet_id"}
GRABBED = "wallet.red_packet.grabbed"


def card_key(card_type: str, flow_id: str) -> str:
    """How local history names the card of one transfer or red packet."""
    return f"{card_type}:{flow_id}"


class Inbox:
    """Applies sync events for one device; ``replenish`` is called when keys run low."""

    def __init__(
        self,
        client: Client,
        crypto: DeviceCrypto,
        history: History,
        replenish: Callable[[], Awaitable[None]],
    ) -> None:
        self.client = client
        self.crypto = crypto
        self.history = history
        self.replenish = replenish

    async def process(self, events: Iterable[SyncEvent]) -> list[str]:
        """Apply ``events`` in order; the ids of messages that became readable."""
        shown: list[str] = []
        for event in events:
            try:
                shown += await self._one(event)
            except CryptoError as exc:  # a bad event must not stop the ones after it
                log.warning("dropped %s %s: %s", event.type, event.event_id, exc)
        return shown

    async def _one(self, event: SyncEvent) -> list[str]:
        content = dict(event.content)
        mine = content.get("device_id") == self.crypto.device_id
        if event.type == "to_device" and mine and isinstance(content.get("message"), Mapping):
            return await self._to_device(content)
        if event.type == TIMELINE:
            return await self.timeline(content)
        if event.type == GRABBED:
            self._grabbed(content)
        if event.type in ("keys.one_time_keys_low", "keys.fallback_key_used") and mine:
            await self.replenish()
        return []

    # To-device ---------------------------------------------------------------------------

    async def _to_device(self, content: dict[str, Any]) -> list[str]:
        envelope: Mapping[str, Any] = content["message"]
        sender, device = str(content.get("sender_user_id")), str(content.get("sender_device_id"))
        if self.crypto.get_peer_device(sender, device) is None:
            await self.learn_devices([sender])
        payload = await asyncio.to_thread(self.crypto.decrypt_to_device, sender, device, envelope)
        if payload.get("type") != ROOM_KEY:
            return []  # key requests and verification are not handled by this device yet
        record = await asyncio.to_thread(
            lambda: self.crypto.receive_room_key(
                sender, device, payload, via_olm_from_curve25519=envelope.get("sender_key")
            )
        )
        shown: list[str] = []
        for pending in self.history.pending(record.session_id):
            shown += await self.timeline(pending.event)
        return shown

    async def learn_devices(self, user_ids: list[str]) -> None:
        """Fetch and check these users' device keys (refused devices stay unknown)."""
        answer = await self.client.query_keys(user_ids)
        listed = [obj for objs in answer.values() for obj in objs]
        await asyncio.to_thread(self.crypto.devices_to_share_with, listed)

    # Timeline ----------------------------------------------------------------------------

    async def timeline(self, event: dict[str, Any]) -> list[str]:
        """Apply one ``conversation.event`` (as the server sends it); readable message ids."""
        event_id, kind = str(event.get("event_id")), event.get("type")
        if self.history.is_processed(event_id):
            return []
        content = event.get("content")
        if not isinstance(content, dict):
            return []
        if kind == "m.encrypted":
            return await self._encrypted(event, content)
        if isinstance(kind, str) and kind in CARD_IDS:
            return self._card(event, kind, content)
        if kind == "m.recall" and isinstance(content.get("event_id"), str):
            self.history.recall(content["event_id"], str(event.get("sender_user_id")))
            self.history.mark_processed(event_id, "recall")
        elif kind == "m.member":
            self.history.request_rotation(str(event.get("conversation_id")))
            self.history.mark_processed(event_id, "member")
        return []

    def _card(self, event: dict[str, Any], kind: str, content: dict[str, Any]) -> list[str]:
        """Keep a wallet card; a later event of the same flow updates the card it shows."""
        event_id, flow_id = str(event.get("event_id")), content.get(CARD_IDS[kind])
        try:
            if not isinstance(flow_id, str) or not flow_id:
                raise ValueError(f"no {CARD_IDS[kind]}")
            shown = self.history.add_card(
                event, card_key(kind, flow_id), content, _summary(kind, content)
            )
        except (KeyError, TypeError, ValueError) as exc:
            self.history.mark_processed(event_id, f"failed: malformed card ({exc})")
            return []
        return [shown]

    def _grabbed(self, content: dict[str, Any]) -> None:
        """Note on the red packet's card who opened it (and what this user got)."""
        packet_id, user_id = content.get("packet_id"), content.get("user_id")
        if not isinstance(packet_id, str) or not isinstance(user_id, str):
            return
        try:
            amount = str(money(content["amount"]))
            remaining = int(content["remaining_count"])
        except (KeyError, TypeError, ValueError):
            return
        notes: dict[str, Any] = {"remaining": remaining}
        if user_id == self.crypto.user_id:
            notes.update(outcome="got", amount=amount)
        self.history.note_card(card_key(RED_PACKET_CARD, packet_id), **notes)

    async def _encrypted(self, event: dict[str, Any], envelope: dict[str, Any]) -> list[str]:
        event_id, sender = str(event["event_id"]), str(event.get("sender_user_id"))
        if event.get("recalled"):
            self.history.recall(event_id, sender)
            self.history.mark_processed(event_id, "recalled")
            return []
        if envelope.get("device_id") != event.get("sender_device_id"):
            self.history.mark_processed(event_id, "failed: device mismatch")
            return []
        try:
            content = await asyncio.to_thread(
                self.crypto.decrypt_message,
                str(event["conversation_id"]),
                event_id,
                sender,
                envelope,
            )
        except MissingSessionKey as exc:
            self.history.add_pending(event, exc.sender_key, exc.session_id)
            return []
        except CryptoError as exc:
            self.history.mark_processed(event_id, f"failed: {type(exc).__name__}")
            return []
        return self.apply(event, content)

    def apply(self, event: dict[str, Any], content: Mapping[str, Any]) -> list[str]:
        """Store a decrypted message, edit or reaction; the ids that became readable."""
        event_id, kind = str(event["event_id"]), content.get("type")
        target, body = content.get("target"), content.get("body")
        if kind in MESSAGE_TYPES and isinstance(body, str):
            self.history.add_message(event, dict(content))
            return [event_id]
        if kind == "m.edit" and isinstance(target, str) and isinstance(body, str):
            self.history.add_edit(event, target, body)
        elif (
            kind == "m.reaction" and isinstance(target, str) and isinstance(content.get("key"), str)
        ):
            self.history.add_reaction(event, target, str(content["key"]))
        else:
            self.history.mark_processed(event_id, f"ignored: {kind!r}")
        return []


def _summary(kind: str, content: Mapping[str, Any]) -> str:
    """A card as one line, for conversation previews and the command line."""
    if kind == TRANSFER_CARD:
        return f"[Transfer] {money(content['amount'])}, {content['state']}"
    return "[Red packet]"
