"""To-device messages: only Olm envelopes, queued per device, served to that device alone,
deleted once acknowledged, applied once per transaction id."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
import vodozemac as v
import websockets

from tests.conftest import PASSWORD, bearer, register


def olm_envelope(
    sender: v.Account, recipient: v.Account, payload: dict[str, Any]
) -> dict[str, Any]:
    """A real Olm pre-key message from ``sender`` to ``recipient`` (one-time key claimed
    locally; the keys API is tested elsewhere)."""
    recipient.generate_one_time_keys(1)
    otk = next(iter(recipient.one_time_keys.values()))
    recipient.mark_keys_as_published()
    session = sender.create_outbound_session(recipient.curve25519_key, otk)
    message_type, body = session.encrypt(json.dumps(payload).encode()).to_parts()
    return {
        "algorithm": "olm.v1.curve25519-aes-sha2",
        "sender_key": sender.curve25519_key.to_base64(),
        "ciphertext": {
            recipient.curve25519_key.to_base64(): {
                "type": message_type,
                "body": base64.b64encode(body).decode(),
            }
        },
    }


def decrypt(recipient: v.Account, envelope: dict[str, Any]) -> dict[str, Any]:
    part = envelope["ciphertext"][recipient.curve25519_key.to_base64()]
    message = v.AnyOlmMessage.from_parts(part["type"], base64.b64decode(part["body"]))
    sender_key = v.Curve25519PublicKey.from_base64(envelope["sender_key"])
    pre_key = message.to_pre_key()
    assert pre_key is not None, "the first message of a session is a pre-key message"
    _session, plaintext = recipient.create_inbound_session(sender_key, pre_key)
    result: dict[str, Any] = json.loads(plaintext)
    return result


async def _send(
    http: httpx.AsyncClient, sender: dict[str, str], txn_id: str, messages: list[dict[str, Any]]
) -> httpx.Response:
    return await http.post(
        "/v1/to-device", json={"txn_id": txn_id, "messages": messages}, headers=bearer(sender)
    )


async def _events(http: httpx.AsyncClient, session: dict[str, str], since: int = 0) -> list[Any]:
    response = await http.get(f"/v1/sync?since={since}", headers=bearer(session))
    assert response.status_code == 200
    events: list[Any] = response.json()["events"]
    return events


def _to_device(events: list[Any]) -> list[Any]:
    return [e for e in events if e["type"] == "to_device"]


async def test_an_olm_message_reaches_only_its_device_and_decrypts(
    client: httpx.AsyncClient,
) -> None:
    alice, bob = await register(client, "alice"), await register(client, "bob")
    bob_phone = (
        await client.post("/v1/sessions", json={"username": "bob", "password": PASSWORD})
    ).json()
    alice_keys, bob_keys = v.Account(), v.Account()
    envelope = olm_envelope(alice_keys, bob_keys, {"type": "m.room_key", "secret": "s3cr3t"})
    sent = await _send(
        client, alice, "t1",
        [{"user_id": bob["user_id"], "device_id": bob["device_id"], "content": envelope}],
    )  # fmt: skip
    assert sent.status_code == 200, sent.text
    assert sent.json() == {"queued": 1, "undelivered": [], "replayed": False}

    [mine] = _to_device(await _events(client, bob))
    assert mine["content"]["device_id"] == bob["device_id"]
    assert mine["content"]["sender_user_id"] == alice["user_id"]
    assert mine["content"]["sender_device_id"] == alice["device_id"]
    assert decrypt(bob_keys, mine["content"]["message"]) == {
        "type": "m.room_key",
        "secret": "s3cr3t",
    }
    # Bob's other device sees only a content-free hint; Alice sees nothing.
    [hint] = _to_device(await _events(client, bob_phone))
    assert "message" not in hint["content"]
    assert _to_device(await _events(client, alice)) == []


async def test_acknowledged_messages_are_deleted(client: httpx.AsyncClient) -> None:
    alice, bob = await register(client, "alice"), await register(client, "bob")
    envelope = olm_envelope(v.Account(), v.Account(), {"n": 1})
    target = {"user_id": bob["user_id"], "device_id": bob["device_id"], "content": envelope}
    await _send(client, alice, "t1", [target])
    [event] = _to_device(await _events(client, bob))
    assert "message" in event["content"]
    # Not acknowledged yet: a re-read still carries it.
    assert "message" in _to_device(await _events(client, bob))[0]["content"]
    await _events(client, bob, since=event["position"])  # acknowledges
    [again] = _to_device(await _events(client, bob))
    assert "message" not in again["content"]


@pytest.mark.parametrize(
    "content",
    [
        {"body": "plain text hello"},
        {"algorithm": "megolm.v1.aes-sha2", "sender_key": "A" * 43, "ciphertext": "xyz"},
        {"algorithm": "olm.v1.curve25519-aes-sha2", "sender_key": "A" * 43, "ciphertext": {}},
        {
            "algorithm": "olm.v1.curve25519-aes-sha2",
            "sender_key": "A" * 43,
            "ciphertext": {
                "B" * 43: {"type": 0, "body": "aGk="},
                "C" * 43: {"type": 0, "body": "aGk="},
            },
        },
        {
            "algorithm": "olm.v1.curve25519-aes-sha2",
            "sender_key": "A" * 43,
            "ciphertext": {"B" * 43: {"type": 2, "body": "aGk="}},
        },
        {
            "algorithm": "olm.v1.curve25519-aes-sha2",
            "sender_key": "A" * 43,
            "ciphertext": {"B" * 43: {"type": 0, "body": "aGk="}},
            "plaintext": "smuggled",
        },
    ],
)
async def test_anything_but_an_olm_envelope_is_refused(
    client: httpx.AsyncClient, content: dict[str, Any]
) -> None:
    alice, bob = await register(client, "alice"), await register(client, "bob")
    good = olm_envelope(v.Account(), v.Account(), {"n": 1})
    response = await _send(
        client, alice, "t1",
        [
            {"user_id": bob["user_id"], "device_id": bob["device_id"], "content": good},
            {"user_id": bob["user_id"], "device_id": bob["device_id"], "content": content},
        ],
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["code"] == "not_olm_encrypted"
    assert "messages[1]" in response.json()["detail"]
    assert _to_device(await _events(client, bob)) == []  # not even the good one


async def test_a_retried_transaction_is_applied_once(client: httpx.AsyncClient) -> None:
    alice, bob = await register(client, "alice"), await register(client, "bob")
    message = {
        "user_id": bob["user_id"],
        "device_id": bob["device_id"],
        "content": olm_envelope(v.Account(), v.Account(), {"n": 1}),
    }
    first = await _send(client, alice, "retry-me", [message])
    second = await _send(client, alice, "retry-me", [message])
    assert first.json()["replayed"] is False
    assert second.json() == {"queued": 0, "undelivered": [], "replayed": True}
    assert len(_to_device(await _events(client, bob))) == 1


async def test_unknown_devices_are_reported_not_queued(client: httpx.AsyncClient) -> None:
    alice, bob = await register(client, "alice"), await register(client, "bob")
    envelope = olm_envelope(v.Account(), v.Account(), {"n": 1})
    response = await _send(
        client, alice, "t1",
        [
            {"user_id": bob["user_id"], "device_id": "no-such-device", "content": envelope},
            {"user_id": bob["user_id"], "device_id": bob["device_id"], "content": envelope},
        ],
    )  # fmt: skip
    assert response.json()["queued"] == 1
    assert response.json()["undelivered"] == [
        {"user_id": bob["user_id"], "device_id": "no-such-device"}
    ]


async def test_removing_a_device_drops_its_queue(client: httpx.AsyncClient) -> None:
    alice, bob = await register(client, "alice"), await register(client, "bob")
    bob_phone = (
        await client.post("/v1/sessions", json={"username": "bob", "password": PASSWORD})
    ).json()
    envelope = olm_envelope(v.Account(), v.Account(), {"n": 1})
    await _send(
        client, alice, "t1",
        [{"user_id": bob["user_id"], "device_id": bob_phone["device_id"], "content": envelope}],
    )  # fmt: skip
    await client.delete(f"/v1/devices/{bob_phone['device_id']}", headers=bearer(bob))
    # The queue went with the device: a new send to it is undelivered, and nothing is left.
    again = await _send(
        client, alice, "t2",
        [{"user_id": bob["user_id"], "device_id": bob_phone["device_id"], "content": envelope}],
    )  # fmt: skip
    assert again.json()["queued"] == 0
    runtime = client._transport.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.db.read() as session:
        from sqlalchemy import text

        left = await session.scalar(text("SELECT count(*) FROM to_device_inbox"))
    assert left == 0


async def test_the_socket_delivers_live_and_the_ack_deletes(live_server: str) -> None:
    ws_url = live_server.replace("http", "ws") + "/v1/sync/ws"
    async with httpx.AsyncClient(base_url=live_server) as http:
        alice, bob = await register(http, "alice"), await register(http, "bob")
        async with websockets.connect(ws_url, additional_headers=bearer(bob)) as ws:
            backlog = json.loads(await ws.recv())
            envelope = olm_envelope(v.Account(), v.Account(), {"n": 1})
            await _send(
                http, alice, "t1",
                [{"user_id": bob["user_id"], "device_id": bob["device_id"], "content": envelope}],
            )  # fmt: skip
            pushed = json.loads(await ws.recv())
            [event] = pushed["events"]
            assert event["content"]["message"] == envelope
            assert event["position"] == backlog["next"] + 1
            await ws.send(json.dumps({"type": "ack", "position": pushed["next"]}))
            await ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await ws.recv()) == {"type": "pong"}  # the ack was processed
        [after] = _to_device(await _events(http, bob))
        assert "message" not in after["content"]
