"""The bytes one text message costs on the wire and in each table, measured from real objects.

A real vodozemac Megolm envelope of a 100-character text, shaped as the device builds it
(``courtyard.client.crypto.device.DeviceCrypto.encrypt_message``), then passed through the
server's own serializers: the timeline row's wire form, the stream copy, the NATS hint and the
socket frame.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import orjson
import vodozemac

from courtyard.client.crypto.canonical import canonical_json
from courtyard.core.ids import new_id
from courtyard.domains.messaging.timeline import CONVERSATION_EVENT, columns_to_wire
from courtyard.streams.events import wire_event
from courtyard.streams.nats_bus import encode_hint

TEXT_CHARS = 100
# Realistic widths for the counters that appear as decimal digits in JSON.
SEQ = 1_234_567
POSITION = 12_345_678


@dataclass(frozen=True)
class WireSizes:
    """Bytes of one 1:1 text message, as JSON text (PostgreSQL's jsonb is about as large)."""

    envelope: int  # the Megolm envelope: timeline_events.content
    stream_content: int  # one inbox copy: stream_events.content (the event, envelope inside)
    hint: int  # one NATS hint with the event attached
    frame: int  # one sync-socket `events` frame carrying it to a device
    plaintext: int  # what the device encrypted
    reference: int  # an inbox copy that only points at the timeline row


def measure_wire_sizes(text_chars: int = TEXT_CHARS) -> WireSizes:
    """Encrypt a ``text_chars``-character text with Megolm and measure every serialized form."""
    conversation_id, user_id, device_id = new_id(), new_id(), new_id()
    plaintext = canonical_json(
        {
            "conversation_id": conversation_id,
            "sender": user_id,
            "sender_device": device_id,
            "content": {"type": "m.text", "body": "x" * text_chars},
        }
    )
    session = vodozemac.GroupSession()
    envelope = {
        "algorithm": "megolm.v1.aes-sha2",
        "sender_key": vodozemac.Account().curve25519_key.to_base64(),
        "session_id": session.session_id,
        "device_id": device_id,
        "ciphertext": session.encrypt(plaintext).to_base64(),
    }
    now = dt.datetime.now(dt.UTC)
    event_id = new_id()
    content = columns_to_wire(
        {
            "conversation_id": conversation_id,
            "seq": SEQ,
            "event_id": event_id,
            "type": "m.encrypted",
            "sender_user_id": user_id,
            "sender_device_id": device_id,
            "content": envelope,
            "recalled": False,
            "created_at": now,
        }
    )
    event = wire_event(POSITION, event_id, CONVERSATION_EVENT, content, now)
    frame = {"type": "events", "events": [event], "next": POSITION}
    return WireSizes(
        envelope=len(orjson.dumps(envelope)),
        stream_content=len(orjson.dumps(content)),
        hint=len(encode_hint(POSITION, event)),
        frame=len(orjson.dumps(frame)),
        plaintext=len(plaintext),
        reference=len(orjson.dumps({"conversation_id": conversation_id, "seq": SEQ})),
    )
