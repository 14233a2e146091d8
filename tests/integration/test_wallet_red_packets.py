"""Red packets through the API: personal and group packets, random and fixed splits, one
grab per person, the 24-hour refund of what is left, and the limits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from courtyard.core.clock import FrozenClock
from courtyard.core.ids import new_id
from courtyard.domains.wallet import audit_ledger
from courtyard.domains.wallet.red_packets import double_mean_split
from tests.integration.wallet_support import PIN, Member, balance, direct, fund, member


async def packet(
    http: httpx.AsyncClient, sender: Member, conversation_id: str, amount: str, **fields: Any
) -> httpx.Response:
    body = {
        "conversation_id": conversation_id,
        "audience": "group",
        "split": "random",
        "count": 1,
        "amount": amount,
        "currency": "CNY",
        "pin": PIN,
        **fields,
    }
    return await http.post(
        "/v1/wallet/red-packets", json=body, headers={**sender.headers, "Idempotency-Key": new_id()}
    )


async def grab(http: httpx.AsyncClient, who: Member, packet_id: str) -> httpx.Response:
    return await http.post(f"/v1/wallet/red-packets/{packet_id}/grab", headers=who.headers)


async def group(http: httpx.AsyncClient, owner: Member, others: list[Member]) -> str:
    created = await http.post(
        "/v1/conversations",
        json={"kind": "group", "members": [m.user_id for m in others]},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    conversation_id: str = created.json()["conversation_id"]
    for other in others:
        joined = await http.post(f"/v1/conversations/{conversation_id}/join", headers=other.headers)
        assert joined.status_code == 204, joined.text
    return conversation_id


async def audit_ok(app: FastAPI) -> None:
    report = await audit_ledger(app.state.runtime.db)
    assert report.ok, report.findings


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=1, max_value=100))
def test_the_double_mean_split_gives_everyone_at_least_one_unit(total: int, count: int) -> None:
    if total < count:
        with pytest.raises(ValueError, match="at least one"):
            double_mean_split(total, count)
        return
    shares = double_mean_split(total, count)
    assert len(shares) == count
    assert sum(shares) == total
    assert min(shares) >= 1


async def test_a_personal_packet_is_for_its_recipient_only(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    alice, bob = await member(client, "alice"), await member(client, "bob")
    conversation_id = await direct(client, alice, bob)
    await fund(app, alice.user_id, 50_00)
    sent = await packet(
        client, alice, conversation_id, "8.88", audience="person", to_user_id=bob.user_id
    )
    assert sent.status_code == 201, sent.text
    packet_id = sent.json()["packet_id"]
    assert await balance(client, alice) == 50_00 - 888
    assert (await grab(client, alice, packet_id)).json()["code"] == "not_eligible"
    opened = await grab(client, bob, packet_id)
    assert opened.json()["amount"]["amount"] == "8.88"
    assert opened.json()["replayed"] is False
    again = await grab(client, bob, packet_id)
    assert again.json()["replayed"] is True
    assert await balance(client, bob) == 888
    seen = await client.get(f"/v1/wallet/red-packets/{packet_id}", headers=bob.headers)
    assert seen.json()["total"]["amount"] == "8.88"
    assert seen.json()["remaining_count"] == 0
    await audit_ok(app)


async def test_a_group_packet_is_shared_once_per_person_and_then_empty(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    people = [await member(client, name) for name in ("ann", "ben", "cat", "dan", "eve")]
    conversation_id = await group(client, people[0], people[1:])
    await fund(app, people[0].user_id, 100_00)
    sent = await packet(client, people[0], conversation_id, "10.00", count=3)
    packet_id = sent.json()["packet_id"]
    got = [await grab(client, p, packet_id) for p in people[1:]]
    assert [g.status_code for g in got] == [200, 200, 200, 409]
    assert got[3].json()["code"] == "red_packet_empty"
    amounts = [g.json()["amount"]["amount_minor"] for g in got[:3]]
    assert sum(amounts) == 10_00
    assert min(amounts) >= 1
    details = (
        await client.get(f"/v1/wallet/red-packets/{packet_id}", headers=people[4].headers)
    ).json()
    assert details["total"] is None  # only the sender and those who grabbed see it
    assert len({g["user_id"] for g in details["grabs"]}) == 3
    await audit_ok(app)


async def test_a_fixed_packet_gives_equal_shares_and_the_rest_comes_back(
    client: httpx.AsyncClient, app: FastAPI, clock: FrozenClock
) -> None:
    people = [await member(client, name) for name in ("ann", "ben", "cat")]
    conversation_id = await group(client, people[0], people[1:])
    await fund(app, people[0].user_id, 100_00)
    sent = await packet(client, people[0], conversation_id, "2.50", count=4, split="fixed")
    packet_id = sent.json()["packet_id"]
    assert await balance(client, people[0]) == 100_00 - 10_00
    for person in people:  # the sender may grab too, as in WeChat
        assert (await grab(client, person, packet_id)).json()["amount"]["amount"] == "2.50"
    clock.advance(hours=24)
    late = await grab(client, people[0], packet_id)
    assert late.json()["replayed"] is True  # your own share is still yours to see
    assert await app.state.runtime.due.run_due() == 1
    assert await balance(client, people[0]) == 100_00 - 10_00 + 250 + 250
    details = (
        await client.get(f"/v1/wallet/red-packets/{packet_id}", headers=people[0].headers)
    ).json()
    assert details["state"] == "expired"
    assert details["refunded"]["amount"] == "2.50"
    await audit_ok(app)


async def test_packet_limits_and_outsiders(client: httpx.AsyncClient, app: FastAPI) -> None:
    ann, ben, zed = (
        await member(client, "ann"),
        await member(client, "ben"),
        await member(client, "zed"),
    )
    conversation_id = await group(client, ann, [ben])
    await fund(app, ann.user_id, 1_000_00)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"amount": "200.01", "count": 2}, "red_packet_cap_exceeded"),
        ({"amount": "1.00", "count": 101}, "too_many_shares"),
        ({"amount": "0.02", "count": 3}, "red_packet_too_small"),
        ({"amount": "1.00", "audience": "person", "to_user_id": zed.user_id}, "not_eligible"),
    ]
    for fields, code in cases:
        refused = await packet(client, ann, conversation_id, **fields)
        assert refused.json()["code"] == code, refused.text
    outsider = await packet(client, zed, conversation_id, "1.00")
    assert outsider.json()["code"] == "red_packet_not_found"
    packet_id = (await packet(client, ann, conversation_id, "5.00", count=2)).json()["packet_id"]
    for path, method in (("", client.get), ("/grab", client.post)):
        peek = await method(f"/v1/wallet/red-packets/{packet_id}{path}", headers=zed.headers)
        assert peek.json()["code"] == "red_packet_not_found"
    assert await balance(client, ann) == 1_000_00 - 5_00
    await audit_ok(app)
