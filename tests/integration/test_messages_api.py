"""Messages: Megolm only, once per txn, per-conversation order, paging, recall, receipts."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from courtyard.core.clock import FrozenClock
from tests.conftest import bearer
from tests.integration.conversation_support import create, megolm_envelope, send, stream, users


async def _direct(client: httpx.AsyncClient) -> tuple[dict[str, str], dict[str, str], str]:
    alice, bob = await users(client, "alice", "bob")
    cid = (await create(client, alice, "direct", [bob])).json()["conversation_id"]
    return alice, bob, cid


async def test_a_message_reaches_every_member_once_as_ciphertext(client: httpx.AsyncClient) -> None:
    alice, bob, cid = await _direct(client)
    sent = await send(client, alice, cid, "secret plans")
    assert sent.status_code == 200
    assert sent.json()["replayed"] is False
    for who in (alice, bob):
        [event] = [e for e in await stream(client, who) if e["content"]["type"] == "m.encrypted"]
        body = event["content"]
        assert body["seq"] == sent.json()["seq"]
        assert body["sender_device_id"] == alice["device_id"]
        assert body["content"]["algorithm"] == "megolm.v1.aes-sha2"
        assert "secret plans" not in str(body)


@pytest.mark.parametrize(
    "content",
    [
        {"body": "plain text"},
        {"algorithm": "olm.v1.curve25519-aes-sha2", "sender_key": "A" * 43, "ciphertext": {}},
        {"algorithm": "megolm.v1.aes-sha2", "sender_key": "A" * 43, "session_id": "B" * 43,
         "device_id": "x", "ciphertext": "not base64!"},
    ],
)  # fmt: skip
async def test_anything_but_megolm_is_refused(
    client: httpx.AsyncClient, content: dict[str, Any]
) -> None:
    alice, _bob, cid = await _direct(client)
    response = await client.post(
        f"/v1/conversations/{cid}/messages", json={"txn_id": "t1", "content": content},
        headers=bearer(alice),
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["code"] == "not_megolm_encrypted"


async def test_the_envelope_must_name_the_sending_device(client: httpx.AsyncClient) -> None:
    alice, bob, cid = await _direct(client)
    response = await client.post(
        f"/v1/conversations/{cid}/messages",
        json={"txn_id": "t1", "content": megolm_envelope(bob)},  # Bob's device id
        headers=bearer(alice),
    )
    assert response.json()["code"] == "not_megolm_encrypted"


async def test_a_retried_send_lands_once(client: httpx.AsyncClient) -> None:
    alice, bob, cid = await _direct(client)
    first = await send(client, alice, cid, txn_id="same")
    again = await send(client, alice, cid, txn_id="same")
    assert again.json() == {**first.json(), "replayed": True}
    history = (await client.get(f"/v1/conversations/{cid}/messages", headers=bearer(bob))).json()
    assert [e["type"] for e in history["events"]].count("m.encrypted") == 1


async def test_concurrent_senders_get_one_gap_free_order(client: httpx.AsyncClient) -> None:
    alice, bob, cid = await _direct(client)
    results = await asyncio.gather(
        *(send(client, who, cid, txn_id=f"c{i}") for i in range(15) for who in (alice, bob))
    )
    seqs = sorted(r.json()["seq"] for r in results)
    assert seqs == list(range(seqs[0], seqs[0] + 30))
    for who in (alice, bob):
        delivered = [
            e["content"]["seq"]
            for e in await stream(client, who)
            if e["content"]["type"] == "m.encrypted"
        ]
        assert delivered == seqs


async def test_history_pages_both_ways(client: httpx.AsyncClient) -> None:
    alice, _bob, cid = await _direct(client)
    for i in range(7):
        await send(client, alice, cid, f"m{i}")
    url = f"/v1/conversations/{cid}/messages"
    newest = (await client.get(f"{url}?limit=3", headers=bearer(alice))).json()
    assert newest["has_more"] is True
    last_three = [e["seq"] for e in newest["events"]]
    older = (
        await client.get(f"{url}?limit=100&before={last_three[0]}", headers=bearer(alice))
    ).json()
    assert older["has_more"] is False
    everything = [e["seq"] for e in older["events"]] + last_three
    assert everything == list(range(1, everything[-1] + 1))
    after = (await client.get(f"{url}?after={everything[-3]}", headers=bearer(alice))).json()
    assert [e["seq"] for e in after["events"]] == everything[-2:]


async def test_recall_within_two_minutes_deletes_the_ciphertext(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    alice, bob, cid = await _direct(client)
    seq = (await send(client, alice, cid, "oops")).json()["seq"]
    late = (await send(client, alice, cid, "too late")).json()["seq"]
    url = f"/v1/conversations/{cid}/messages"
    assert (await client.post(f"{url}/{seq}/recall", headers=bearer(bob))).status_code == 404
    assert (await client.post(f"{url}/{seq}/recall", headers=bearer(alice))).status_code == 204
    events = {e["seq"]: e for e in (await client.get(url, headers=bearer(bob))).json()["events"]}
    assert events[seq]["recalled"] is True
    assert events[seq]["content"] == {}
    recall = [e for e in events.values() if e["type"] == "m.recall"]
    assert recall[0]["content"]["seq"] == seq
    # Every inbox copy lost its ciphertext too, so a device syncing later never gets it.
    for who in (alice, bob):
        [copy] = [e["content"] for e in await stream(client, who) if e["content"]["seq"] == seq]
        assert copy["recalled"] is True
        assert copy["content"] == {}
    clock.advance(minutes=2, seconds=1)
    expired = await client.post(f"{url}/{late}/recall", headers=bearer(alice))
    assert expired.status_code == 403
    assert expired.json()["code"] == "recall_expired"
    # Recalling twice is not possible either.
    assert (await client.post(f"{url}/{seq}/recall", headers=bearer(alice))).status_code == 404


async def test_read_receipts_and_typing_reach_the_others(client: httpx.AsyncClient) -> None:
    alice, bob, cid = await _direct(client)
    seq = (await send(client, alice, cid)).json()["seq"]
    assert (
        await client.post(f"/v1/conversations/{cid}/read", json={"seq": seq}, headers=bearer(bob))
    ).status_code == 204
    await client.post(f"/v1/conversations/{cid}/typing", json={"typing": True}, headers=bearer(bob))
    alice_sees = [(e["type"], e["content"]) for e in await stream(client, alice)]
    assert (
        "conversation.read",
        {"conversation_id": cid, "user_id": bob["user_id"], "seq": seq},
    ) in alice_sees
    assert (
        "conversation.typing",
        {"conversation_id": cid, "user_id": bob["user_id"], "typing": True},
    ) in alice_sees
    assert not any(e["type"] == "conversation.typing" for e in await stream(client, bob))
    # Receipts only move forward.
    await client.post(f"/v1/conversations/{cid}/read", json={"seq": 1}, headers=bearer(bob))
    reads = [e for e in await stream(client, alice) if e["type"] == "conversation.read"]
    assert len(reads) == 1
