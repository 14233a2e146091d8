"""Device keys over the API, with real vodozemac keys: upload, query, claim, counts, the
stream events that ask a device to replenish, and every rule docs/messaging.md lists."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import vodozemac
from fastapi import FastAPI
from sqlalchemy import func, select

from courtyard.api.runtime import Runtime
from courtyard.client import ApiError, Client
from courtyard.domains.keys.models import DeviceKeys, FallbackKey, OneTimeKey
from tests.client_support import consent_for
from tests.conftest import PASSWORD, register
from tests.keys_support import (
    LOW_ORDER_HEX,
    Device,
    assert_problem,
    b64,
    canonical,
    claim,
    counts,
    key_events,
    query,
    upload,
    uploaded,
)


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> Device:
    return Device(await register(client, "alice"))


@pytest.fixture
async def bob(client: httpx.AsyncClient) -> Device:
    return Device(await register(client, "bob"))


async def test_upload_and_query_round_trip_with_verifiable_signatures(
    client: httpx.AsyncClient, alice: Device, bob: Device
) -> None:
    device_keys = alice.device_keys()
    answer = await uploaded(
        client,
        alice,
        device_keys=device_keys,
        one_time_keys=alice.one_time_keys(5),
        fallback_key=alice.fallback_key(),
    )
    assert answer == {"one_time_key_count": 5, "fallback_key": True}

    found = await query(client, bob, alice.user_id, bob.user_id, "no-such-user")
    assert found == {alice.user_id: [device_keys]}  # bob has no keys: absent
    served = found[alice.user_id][0]
    ed25519 = vodozemac.Ed25519PublicKey.from_base64(served["keys"]["ed25519"])
    ed25519.verify_signature(
        canonical(served), vodozemac.Ed25519Signature.from_base64(served["signature"])
    )


async def test_counts_follow_uploads_and_claims(
    client: httpx.AsyncClient, alice: Device, bob: Device
) -> None:
    assert await counts(client, alice) == {"one_time_key_count": 0, "fallback_key": False}
    await uploaded(client, alice, device_keys=alice.device_keys())
    await uploaded(client, alice, one_time_keys=alice.one_time_keys(3))
    assert await counts(client, alice) == {"one_time_key_count": 3, "fallback_key": False}
    await claim(client, bob, alice)
    assert await counts(client, alice) == {"one_time_key_count": 2, "fallback_key": False}


async def test_a_one_time_key_is_handed_out_once_then_the_fallback_key_again_and_again(
    client: httpx.AsyncClient, alice: Device, bob: Device
) -> None:
    otks, fallback = alice.one_time_keys(2), alice.fallback_key()
    await uploaded(
        client, alice, device_keys=alice.device_keys(), one_time_keys=otks, fallback_key=fallback
    )

    taken = [await claim(client, bob, alice) for _ in range(4)]

    assert sorted(k[0]["key_id"] for k in taken[:2]) == sorted(o["key_id"] for o in otks)
    assert taken[0][0] in otks
    assert taken[1][0] in otks
    assert taken[2] == taken[3] == [fallback]
    assert taken[2][0]["fallback"] is True
    assert await counts(client, alice) == {"one_time_key_count": 0, "fallback_key": False}


async def test_a_device_listed_twice_in_one_claim_gives_one_key(
    client: httpx.AsyncClient, alice: Device, bob: Device
) -> None:
    await uploaded(
        client, alice, device_keys=alice.device_keys(), one_time_keys=alice.one_time_keys(3)
    )
    assert len(await claim(client, bob, alice, alice)) == 1
    assert (await counts(client, alice))["one_time_key_count"] == 2


async def test_devices_without_keys_are_absent_from_a_claim(
    client: httpx.AsyncClient, alice: Device, bob: Device
) -> None:
    await uploaded(client, alice, device_keys=alice.device_keys())
    assert await claim(client, bob, alice, bob) == []


async def test_concurrent_claims_never_hand_out_a_key_twice(
    client: httpx.AsyncClient, alice: Device, bob: Device
) -> None:
    otks, fallback = alice.one_time_keys(10), alice.fallback_key()
    await uploaded(
        client, alice, device_keys=alice.device_keys(), one_time_keys=otks, fallback_key=fallback
    )

    results = await asyncio.gather(*(claim(client, bob, alice) for _ in range(20)))

    handed = [r[0] for r in results]
    one_time = [k for k in handed if not k["fallback"]]
    assert sorted(k["key_id"] for k in one_time) == sorted(o["key_id"] for o in otks)
    assert [k for k in handed if k["fallback"]] == [fallback] * 10
    assert (await counts(client, alice))["one_time_key_count"] == 0


async def test_running_low_and_using_the_fallback_key_tell_the_owner_once(
    client: httpx.AsyncClient, alice: Device, bob: Device
) -> None:
    await uploaded(
        client,
        alice,
        device_keys=alice.device_keys(),
        one_time_keys=alice.one_time_keys(11),
        fallback_key=alice.fallback_key(),
    )
    await claim(client, bob, alice)  # 10 left: not low yet
    assert await key_events(client, alice) == []
    await claim(client, bob, alice)  # 9 left
    low = {"device_id": alice.device_id, "count": 9}
    assert await key_events(client, alice) == [("keys.one_time_keys_low", low)]

    for _ in range(9):
        await claim(client, bob, alice)
    for _ in range(3):  # the fallback key, three times: one event
        assert (await claim(client, bob, alice))[0]["fallback"] is True
    events = await key_events(client, alice)
    assert [c["count"] for t, c in events if t == "keys.one_time_keys_low"] == list(
        range(9, -1, -1)
    )
    used = ("keys.fallback_key_used", {"device_id": alice.device_id})
    assert events.count(used) == 1

    # A new fallback key is unused again, and its first use is announced again.
    answer = await uploaded(client, alice, fallback_key=alice.fallback_key())
    assert answer == {"one_time_key_count": 0, "fallback_key": True}
    await claim(client, bob, alice)
    assert (await key_events(client, alice)).count(used) == 2
    assert (await key_events(client, bob)) == []


async def test_device_keys_are_immutable(
    client: httpx.AsyncClient, alice: Device, bob: Device
) -> None:
    first = alice.device_keys()
    await uploaded(client, alice, device_keys=first)
    assert await uploaded(client, alice, device_keys=first) == {
        "one_time_key_count": 0,
        "fallback_key": False,
    }

    replaced = await upload(client, alice, device_keys=alice.device_keys(vodozemac.Account()))

    assert_problem(replaced, 409, "device_keys_immutable")
    assert await query(client, bob, alice.user_id) == {alice.user_id: [first]}


def _tamper(value: str) -> str:
    raw = bytearray(base64.b64decode(value + "="))
    raw[0] ^= 1
    return b64(bytes(raw))


async def test_bad_signatures_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, alice: Device, bob: Device
) -> None:
    stranger = vodozemac.Account()
    forged_device_keys = alice.device_keys()
    forged_device_keys["keys"]["curve25519"] = stranger.curve25519_key.to_base64()
    tampered = alice.one_time_keys(1)[0]
    tampered["key"] = _tamper(tampered["key"])
    otk = alice.one_time_keys(1)[0]
    by_stranger = alice.sign({k: v for k, v in otk.items() if k != "signature"}, stranger)

    attempts: list[dict[str, Any]] = [
        {"device_keys": forged_device_keys},
        {"device_keys": alice.device_keys(), "one_time_keys": [tampered]},
        {"device_keys": alice.device_keys(), "one_time_keys": [by_stranger]},
        {
            "device_keys": alice.device_keys(),
            "fallback_key": {**alice.fallback_key(), "key_id": "x"},
        },
    ]
    for body in attempts:
        assert_problem(await upload(client, alice, **body), 400, "bad_signature")

    assert await query(client, bob, alice.user_id) == {}
    assert await counts(client, alice) == {"one_time_key_count": 0, "fallback_key": False}


@pytest.mark.parametrize("point", list(LOW_ORDER_HEX.values()), ids=list(LOW_ORDER_HEX))
async def test_low_order_curve25519_keys_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, alice: Device, bob: Device, point: str
) -> None:
    bad = b64(bytes.fromhex(point))
    device_keys = alice.device_keys()
    evil_device_keys = alice.sign(
        {**device_keys, "keys": {**device_keys["keys"], "curve25519": bad}}
    )

    attempts: list[dict[str, Any]] = [
        {"device_keys": evil_device_keys},
        {"device_keys": device_keys, "one_time_keys": [alice.key("AAAAAAAAAAA", bad)]},
        {"device_keys": device_keys, "fallback_key": alice.key("fb", bad, fallback=True)},
    ]
    for body in attempts:
        assert_problem(await upload(client, alice, **body), 400, "low_order_key")

    assert await query(client, bob, alice.user_id) == {}
    assert await claim(client, bob, alice) == []


@pytest.mark.parametrize(
    "key", [b64(bytes(31)), b64(b"\x09" * 33), base64.b64encode(b"\x09" * 32).decode()]
)
async def test_keys_of_the_wrong_length_or_spelling_are_invalid(
    client: httpx.AsyncClient, alice: Device, key: str
) -> None:
    response = await upload(
        client, alice, device_keys=alice.device_keys(), one_time_keys=[alice.key("k1", key)]
    )
    assert_problem(response, 400, "invalid_key")


async def test_a_key_id_or_key_equal_to_the_device_id_is_refused(
    client: httpx.AsyncClient, alice: Device
) -> None:
    good = alice.one_time_keys(1)[0]["key"]
    for otk in (alice.key(alice.device_id, good), alice.key("k1", alice.device_id)):
        response = await upload(client, alice, device_keys=alice.device_keys(), one_time_keys=[otk])
        assert_problem(response, 400, "key_id_is_device_id")
    fallback = alice.key(alice.device_id, good, fallback=True)
    response = await upload(client, alice, device_keys=alice.device_keys(), fallback_key=fallback)
    assert_problem(response, 400, "key_id_is_device_id")


async def test_user_b_cannot_upload_keys_for_user_a_device(
    client: httpx.AsyncClient, alice: Device, bob: Device
) -> None:
    alice_keys = alice.device_keys()
    await uploaded(client, alice, device_keys=alice_keys, one_time_keys=alice.one_time_keys(2))
    before = await counts(client, alice)
    # Bob signs objects naming Alice's device with his own account, and sends them as himself.
    impostor = Device(alice.session)
    impostor.headers = bob.headers
    attempts: list[dict[str, Any]] = [
        {"device_keys": impostor.device_keys()},
        {"one_time_keys": impostor.one_time_keys(3)},
        {"fallback_key": impostor.fallback_key()},
    ]
    for body in attempts:
        assert_problem(await upload(client, alice, as_=bob, **body), 403, "not_your_device")

    assert await query(client, bob, alice.user_id) == {alice.user_id: [alice_keys]}
    assert await counts(client, alice) == before
    assert await counts(client, bob) == {"one_time_key_count": 0, "fallback_key": False}


async def test_one_time_keys_need_device_keys_on_file(
    client: httpx.AsyncClient, alice: Device
) -> None:
    response = await upload(client, alice, one_time_keys=alice.one_time_keys(1))
    assert_problem(response, 400, "device_keys_missing")
    response = await upload(client, alice, fallback_key=alice.fallback_key())
    assert_problem(response, 400, "device_keys_missing")


async def test_key_ids_are_not_reused_with_another_key(
    client: httpx.AsyncClient, alice: Device
) -> None:
    otks = alice.one_time_keys(2)
    await uploaded(client, alice, device_keys=alice.device_keys(), one_time_keys=otks)
    again = await uploaded(client, alice, one_time_keys=otks)
    assert again["one_time_key_count"] == 2

    other = alice.one_time_keys(1)[0]["key"]
    response = await upload(client, alice, one_time_keys=[alice.key(otks[0]["key_id"], other)])
    assert_problem(response, 409, "key_id_reused")
    fallback = alice.fallback_key()
    await uploaded(client, alice, fallback_key=fallback)
    reused = alice.key(fallback["key_id"], other, fallback=True)
    assert_problem(await upload(client, alice, fallback_key=reused), 409, "key_id_reused")
    assert await counts(client, alice) == {"one_time_key_count": 2, "fallback_key": True}


async def test_the_101st_unclaimed_one_time_key_is_refused(
    client: httpx.AsyncClient, alice: Device
) -> None:
    await uploaded(client, alice, device_keys=alice.device_keys())
    keys = alice.one_time_keys(101)
    assert_problem(
        await upload(client, alice, one_time_keys=keys[:51]), 400, "too_many_one_time_keys"
    )
    await uploaded(client, alice, one_time_keys=keys[:50])
    await uploaded(client, alice, one_time_keys=keys[50:100])

    response = await upload(client, alice, one_time_keys=keys[100:])

    assert_problem(response, 400, "too_many_one_time_keys")
    assert (await counts(client, alice))["one_time_key_count"] == 100


async def test_a_fallback_flag_must_match_the_key_kind(
    client: httpx.AsyncClient, alice: Device
) -> None:
    as_fallback = alice.key("k1", alice.one_time_keys(1)[0]["key"], fallback=True)
    response = await upload(
        client, alice, device_keys=alice.device_keys(), one_time_keys=[as_fallback]
    )
    assert_problem(response, 400, "invalid_key")


async def test_query_takes_at_most_100_users(client: httpx.AsyncClient, alice: Device) -> None:
    body = {"user_ids": [f"user-{n}" for n in range(101)]}
    response = await client.post("/v1/keys/query", json=body, headers=alice.headers)
    assert_problem(response, 422, "invalid_request")


async def _table_rows(runtime: Runtime, device_id: str) -> list[int]:
    async with runtime.db.read() as session:
        return [
            int(
                await session.scalar(
                    select(func.count()).select_from(model).where(model.device_id == device_id)
                )
                or 0
            )
            for model in (DeviceKeys, OneTimeKey, FallbackKey)
        ]


async def test_removing_a_device_removes_its_keys(
    app: FastAPI, client: httpx.AsyncClient, alice: Device, bob: Device
) -> None:
    login = await client.post("/v1/sessions", json={"username": "alice", "password": PASSWORD})
    phone = Device(login.json())
    await uploaded(
        client,
        phone,
        device_keys=phone.device_keys(),
        one_time_keys=phone.one_time_keys(5),
        fallback_key=phone.fallback_key(),
    )
    await uploaded(client, alice, device_keys=alice.device_keys())
    runtime: Runtime = app.state.runtime
    assert await _table_rows(runtime, phone.device_id) == [1, 5, 1]

    removed = await client.delete(f"/v1/devices/{phone.device_id}", headers=alice.headers)

    assert removed.status_code == 204
    assert await _table_rows(runtime, phone.device_id) == [0, 0, 0]
    assert [d["device_id"] for d in (await query(client, bob, alice.user_id))[alice.user_id]] == [
        alice.device_id
    ]
    assert await claim(client, bob, phone) == []


@pytest.fixture
async def sdk(app: FastAPI) -> AsyncIterator[Client]:
    async with Client("http://courtyard.test", transport=httpx.ASGITransport(app=app)) as c:
        yield c


async def test_the_sdk_uploads_queries_claims_and_counts(
    sdk: Client, client: httpx.AsyncClient, bob: Device
) -> None:
    me = Device(
        {
            **(
                await sdk.register("carol", PASSWORD, "Carol", "DE", **await consent_for(sdk, "DE"))
            ).__dict__
        }
    )
    device_keys, otks = me.device_keys(), me.one_time_keys(2)

    counts_after = await sdk.upload_keys(device_keys, otks, me.fallback_key())

    assert (counts_after.one_time_key_count, counts_after.fallback_key) == (2, True)
    assert await sdk.query_keys([me.user_id]) == {me.user_id: [device_keys]}
    assert await sdk.claim_keys([(me.user_id, me.device_id)]) in ([otks[0]], [otks[1]])
    assert (await sdk.key_counts()).one_time_key_count == 1
    with pytest.raises(ApiError) as refused:
        await sdk.upload_keys(me.device_keys(vodozemac.Account()))
    assert refused.value.code == "device_keys_immutable"
    assert await claim(client, bob, me) != []
