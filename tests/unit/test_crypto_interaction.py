"""Three devices under random sends, deliveries, drops, reorders and restarts: every message
that is delivered decrypts to exactly what was sent.

The harness plays the server. To-device messages queue per recipient in order (as the
server's inbox does); Olm messages may be dropped, room keys may not (they ride the same
retried, idempotent to-device send). Megolm events may be dropped, reordered and delivered
twice under the same event id. A device without an Olm session to a peer claims one of the
peer's published one-time keys (the fallback key when none is left), as a real client does
on ``NoOlmSession``; ``resession`` starts over with a freshly claimed key to model a client
that gave up on a session whose pre-key messages were dropped.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from courtyard.client.crypto import DeviceCrypto, MissingSessionKey
from tests.unit.crypto_support import introduce, new_device, reopen

ROOM = "room"
USERS = ("alice", "bob", "carol")

Op = tuple[Any, ...]
pair = st.tuples(st.integers(0, 2), st.integers(1, 2))
ops = st.one_of(
    st.tuples(st.just("olm"), pair),
    st.tuples(st.just("megolm"), st.integers(0, 2)),
    st.tuples(st.just("deliver_td"), st.integers(0, 2)),
    st.tuples(st.just("drop_td"), st.integers(0, 2)),
    st.tuples(st.just("deliver_mg"), st.integers(0, 2), st.integers(0, 50)),
    st.tuples(st.just("drop_mg"), st.integers(0, 2), st.integers(0, 50)),
    st.tuples(st.just("redeliver_mg"), st.integers(0, 2)),
    st.tuples(st.just("restart"), st.integers(0, 2)),
    st.tuples(st.just("resession"), pair),
    st.tuples(st.just("rotate"), st.integers(0, 2)),
)


@dataclass
class ToDevice:
    sender: int
    envelope: dict[str, Any]
    expected: dict[str, Any]
    is_room_key: bool


@dataclass
class Event:
    event_id: str
    sender: int
    envelope: dict[str, Any]
    expected: dict[str, Any]


@dataclass
class World:
    devices: list[DeviceCrypto]
    published: list[list[dict[str, Any]]] = field(default_factory=lambda: [[], [], []])
    fallback: list[dict[str, Any]] = field(default_factory=list)
    to_device: list[list[ToDevice]] = field(default_factory=lambda: [[], [], []])
    megolm: list[list[Event]] = field(default_factory=lambda: [[], [], []])
    pending: list[list[Event]] = field(default_factory=lambda: [[], [], []])
    decrypted: list[list[Event]] = field(default_factory=lambda: [[], [], []])
    counter: int = 0
    checked: int = 0

    def upload_keys(self, i: int) -> None:
        device = self.devices[i]
        self.published[i].extend(device.generate_one_time_keys(5))
        device.mark_published()

    def claim(self, sender: int, recipient: int) -> None:
        """``/v1/keys/claim``: a one-time key, or the fallback key when none is left."""
        keys = self.published[recipient]
        otk = keys.pop(0) if keys else self.fallback[recipient]
        peer = self.devices[recipient].identity_keys()["curve25519"]
        self.devices[sender].start_session(peer, otk)
        if len(keys) < 2:
            self.upload_keys(recipient)

    def send_olm(self, sender: int, recipient: int, payload: dict[str, Any]) -> None:
        device, peer = self.devices[sender], self.devices[recipient]
        if not device.has_session(peer.user_id, peer.device_id):
            self.claim(sender, recipient)
        envelope = device.encrypt_to_device(peer.user_id, peer.device_id, payload)
        is_key = payload["type"] == "m.room_key"
        self.to_device[recipient].append(ToDevice(sender, envelope, payload, is_key))

    def send_megolm(self, sender: int) -> None:
        device = self.devices[sender]
        others = [j for j in range(3) if j != sender]
        peers = [device.get_peer_device(USERS[j], "D") for j in others]
        known = [p for p in peers if p is not None]
        for peer in device.unshared_devices(ROOM, known):
            self.send_olm(sender, USERS.index(peer.user_id), device.room_key_payload(ROOM))
        device.mark_room_key_shared(ROOM, known)
        self.counter += 1
        content = {"body": f"m{self.counter}", "from": USERS[sender]}
        envelope = device.encrypt_message(ROOM, content)
        for j in others:
            self.megolm[j].append(Event(f"$ev{self.counter}", sender, envelope, content))

    def deliver_to_device(self, i: int) -> None:
        if not self.to_device[i]:
            return
        message = self.to_device[i].pop(0)
        device, sender = self.devices[i], self.devices[message.sender]
        payload = device.decrypt_to_device(sender.user_id, sender.device_id, message.envelope)
        assert payload == message.expected
        self.checked += 1
        if message.is_room_key:
            device.receive_room_key(
                sender.user_id,
                sender.device_id,
                payload,
                via_olm_from_curve25519=message.envelope["sender_key"],
            )
            waiting, self.pending[i] = self.pending[i], []
            for event in waiting:
                self.decrypt(i, event)

    def decrypt(self, i: int, event: Event) -> None:
        try:
            content = self.devices[i].decrypt_message(
                ROOM, event.event_id, USERS[event.sender], event.envelope
            )
        except MissingSessionKey:
            self.pending[i].append(event)
            return
        assert content == event.expected
        self.decrypted[i].append(event)
        self.checked += 1

    def step(self, op: Op) -> None:
        kind = op[0]
        if kind in ("olm", "resession"):
            sender, offset = op[1]
            recipient = (sender + offset) % 3
            if kind == "resession":
                self.claim(sender, recipient)
            else:
                self.counter += 1
                self.send_olm(sender, recipient, {"type": "m.chat", "n": self.counter})
        elif kind == "megolm":
            self.send_megolm(op[1])
        elif kind == "deliver_td":
            self.deliver_to_device(op[1])
        elif kind == "drop_td":
            inbox = self.to_device[op[1]]
            if inbox and not inbox[0].is_room_key:
                inbox.pop(0)
        elif kind in ("deliver_mg", "drop_mg"):
            events = self.megolm[op[1]]
            if events:
                event = events.pop(op[2] % len(events))
                if kind == "deliver_mg":
                    self.decrypt(op[1], event)
        elif kind == "redeliver_mg":
            if self.decrypted[op[1]]:
                self.decrypt(op[1], self.decrypted[op[1]][-1])
        elif kind == "restart":
            self.devices[op[1]] = reopen(self.devices[op[1]])
        elif kind == "rotate":
            self.devices[op[1]].outbound_for(ROOM, member_device_count_changed=True)

    def flush(self) -> None:
        for i in range(3):
            while self.to_device[i]:
                self.deliver_to_device(i)
            while self.megolm[i]:
                self.decrypt(i, self.megolm[i].pop(0))


def run(directory: Path, steps: list[Op]) -> World:
    devices = [new_device(directory, user, "D") for user in USERS]
    introduce(*devices)
    world = World(devices)
    for i, device in enumerate(devices):
        world.upload_keys(i)
        world.fallback.append(device.fallback_key_payload())
        device.mark_published()
    for op in steps:
        world.step(op)
    world.flush()
    return world


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(st.lists(ops, min_size=1, max_size=60))
def test_every_delivered_message_decrypts_to_what_was_sent(steps: list[Op]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        world = run(Path(directory), steps)
        # Room keys are never dropped, so after the flush nothing waits for a key.
        assert world.pending == [[], [], []]
        for device in world.devices:
            device.store.close()


def test_scripted_run_covers_drops_reorders_and_restarts(tmp_path: Path) -> None:
    steps: list[Op] = [
        ("olm", (0, 1)),
        ("drop_td", 1),  # Alice's first pre-key message to Bob is lost.
        ("olm", (0, 1)),
        ("megolm", 0),
        ("megolm", 0),
        ("deliver_mg", 1, 1),  # Bob gets the second event before its room key...
        ("restart", 1),
        ("deliver_td", 1),  # ...the chat message...
        ("deliver_td", 1),  # ...then the room key, which unblocks the waiting event.
        ("deliver_mg", 1, 0),
        ("redeliver_mg", 1),
        ("resession", (1, 2)),
        ("olm", (1, 2)),
        ("rotate", 0),
        ("megolm", 0),
        ("restart", 0),
        ("megolm", 0),
    ]
    world = run(tmp_path, steps)
    assert world.pending == [[], [], []]
    # $ev4 waited for its key; $ev3 came late; $ev3 again is the idempotent redelivery.
    assert [e.event_id for e in world.decrypted[1]] == ["$ev4", "$ev3", "$ev3", "$ev6", "$ev7"]
    assert len({e.envelope["session_id"] for e in world.decrypted[2]}) == 2
    assert world.checked >= 12
