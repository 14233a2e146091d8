"""After an erasure, the erased user's id is nowhere in the database but where
docs/user-rights.md says it stays: every text and JSON column of every table is scanned, on
SQLite and PostgreSQL. The world before it touches every table erasure deletes or
pseudonymises, and the server's copy of the user's messages is gone."""

from __future__ import annotations

from collections.abc import Iterable

import httpx
import pytest
import vodozemac as v
from fastapi import FastAPI
from sqlalchemy import JSON, LargeBinary, String, Text, cast, func, select

from courtyard.core.clock import FrozenClock
from courtyard.domains.messaging.models import TimelineEvent
from courtyard.domains.wallet import audit_ledger
from courtyard.migrations.schema import metadata
from tests.conftest import PASSWORD, bearer, register
from tests.integration.bill_support import pay_bill, register_biller
from tests.integration.conversation_support import create, send
from tests.integration.merchant_support import make_code, pay, register_merchant
from tests.integration.test_to_device_api import olm_envelope
from tests.integration.test_wallet_red_packets import grab, packet
from tests.integration.wallet_support import PIN, Member, direct, fund, transfer
from tests.keys_support import Device, uploaded

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

# Where the old id may stay, and why (docs/user-rights.md, "Where the old user id stays").
ALLOWED = {
    "audit_log": "append-only record of who did what",
    "ledger_entries": "initiator of append-only entries",
    "erasure_requests": "that the erasure happened; maps the id to the pseudonym",
    "conversations": "created_by, which signed founding admissions name",
    "conversation_members": "invited_by of the members the user invited",
    "timeline_events": "sender of tombstones and of server-written membership events",
    "stream_events": "other members' copies of events that name the user",
    "wallet_idempotency": "other users' answers that name the user",
    "due_jobs": "the erase job itself, purged 90 days after it ran",
    "consent_records": "evidence of consent (append-only), kept as the data map declares",
    "complaints": "evidence that complaints were answered, kept as the data map declares",
}


async def hits(app: FastAPI, needle: str) -> dict[str, set[str]]:
    """table → the text or JSON columns holding ``needle`` in some row."""
    found: dict[str, set[str]] = {}
    async with app.state.runtime.db.read() as session:
        for table in metadata.sorted_tables:
            for column in table.columns:
                if isinstance(column.type, LargeBinary) or not isinstance(
                    column.type, String | Text | JSON
                ):
                    continue
                count = await session.scalar(
                    select(func.count())
                    .select_from(table)
                    .where(cast(column, Text).like(f"%{needle}%"))
                )
                if count:
                    found.setdefault(table.name, set()).add(column.name)
    return found


async def account(client: httpx.AsyncClient, name: str) -> tuple[dict[str, str], Member]:
    session = await register(client, name)
    member = Member(session["user_id"], bearer(session))
    pin = await client.put(
        "/v1/wallet/pin", json={"pin": PIN, "password": PASSWORD}, headers=member.headers
    )
    assert pin.status_code == 204, pin.text
    return session, member


def ok(responses: Iterable[httpx.Response]) -> None:
    for response in responses:
        assert response.is_success, response.text


async def alice_everywhere(app: FastAPI, client: httpx.AsyncClient) -> tuple[Member, Member]:
    """Alice with keys, a group and a direct chat with messages, to-device messages both
    ways, an upload, and an emptied wallet after a transfer, a red packet both ways, a bill,
    a QR payment and a merchant of her own."""
    (alice_s, alice), (bob_s, bob) = await account(client, "alice"), await account(client, "bob")
    carol_s, _carol = await account(client, "carol")
    keys = Device(alice_s)
    await uploaded(
        client, keys, device_keys=keys.device_keys(), one_time_keys=keys.one_time_keys(2)
    )
    group_id = (await create(client, alice_s, "group", [bob_s, carol_s], "trip")).json()[
        "conversation_id"
    ]
    direct_id = await direct(client, alice, bob)
    sent = await send(client, alice_s, group_id, "see you at noon")
    ok([sent, await send(client, alice_s, direct_id), await send(client, bob_s, direct_id)])
    olm = [olm_envelope(v.Account(), v.Account(), {"type": "m.dummy"}) for _ in range(2)]
    ok([
        await client.post("/v1/to-device", json={"txn_id": "a1", "messages": [
            {"user_id": bob.user_id, "device_id": bob_s["device_id"], "content": olm[0]}]},
            headers=alice.headers),
        await client.post("/v1/to-device", json={"txn_id": "b1", "messages": [
            {"user_id": alice.user_id, "device_id": alice_s["device_id"], "content": olm[1]}]},
            headers=bob.headers),
        await client.post("/v1/media", content=b"\x00ciphertext",
                          headers={**alice.headers, "Content-Type": "application/octet-stream"}),
    ])  # fmt: skip
    await fund(app, alice.user_id, 100_00)
    await fund(app, bob.user_id, 10_00)
    shop = await register_merchant(app, bob.user_id)
    await register_merchant(app, alice.user_id, name="Alice's Stall")
    code = await make_code(client, bob, shop, "7.00")
    mine = (
        await packet(client, alice, direct_id, "3.00", audience="person", to_user_id=bob.user_id)
    ).json()
    theirs = (
        await packet(client, bob, direct_id, "2.00", audience="person", to_user_id=alice.user_id)
    ).json()
    ok([
        await grab(client, bob, mine["packet_id"]),
        await grab(client, alice, theirs["packet_id"]),
        await pay_bill(client, alice, await register_biller(app), "5.00"),
        await pay(client, alice, code["payload"]),
    ])  # fmt: skip
    moved = await transfer(client, alice, bob, "87.00")
    accepted = await client.post(
        f"/v1/wallet/transfers/{moved.json()['transfer_id']}/accept", headers=bob.headers
    )
    ok([moved, accepted])
    return alice, bob


async def test_after_erasure_the_id_stays_only_where_the_design_says(
    app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    alice, _bob = await alice_everywhere(app, client)
    group_ciphertext = await ciphertext_of(app, alice.user_id)
    before = await hits(app, alice.user_id)
    touched = {
        "users", "usernames", "devices", "access_tokens", "device_keys", "one_time_keys",
        "to_device_inbox", "to_device_txns", "media", "conversation_members",
        "user_conversations", "direct_conversations", "stream_events", "stream_heads",
        "ledger_accounts", "ledger_account_keys", "transfers", "red_packets",
        "red_packet_shares", "payments", "bill_payments", "merchants", "wallet_pins",
        "wallet_idempotency", "wallet_user_flows", "user_consents", "consent_records",
    }  # fmt: skip
    assert touched <= before.keys(), touched - before.keys()
    assert await hits(app, group_ciphertext)  # in the timeline and the members' streams

    asked = await client.post(
        "/v1/privacy/erasure", json={"password": PASSWORD}, headers=alice.headers
    )
    assert asked.status_code == 202, asked.text
    clock.advance(days=30)
    await app.state.runtime.due.run_due()
    assert (await client.get("/v1/privacy/erasure", headers=alice.headers)).status_code == 401

    after = await hits(app, alice.user_id)
    assert set(after) <= set(ALLOWED), {t: after[t] for t in set(after) - set(ALLOWED)}
    assert await hits(app, group_ciphertext) == {}
    report = await audit_ledger(app.state.runtime.db)
    assert report.ok, report.findings


async def ciphertext_of(app: FastAPI, user_id: str) -> str:
    """A piece of a Megolm ciphertext the user sent."""
    async with app.state.runtime.db.read() as session:
        content = await session.scalar(
            select(TimelineEvent.content)
            .where(TimelineEvent.sender_user_id == user_id, TimelineEvent.type == "m.encrypted")
            .limit(1)
        )
    assert content is not None
    return str(content["ciphertext"])[:40]
