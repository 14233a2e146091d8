"""Login throttling and the indistinguishability of unknown users and wrong passwords."""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx
import pytest

from courtyard.core.clock import FrozenClock
from tests.conftest import PASSWORD, register

WRONG = "not the right password"


async def _login(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await http.post("/v1/sessions", json={"username": username, "password": password})


async def test_the_101st_failed_login_in_an_hour_is_refused(client: httpx.AsyncClient) -> None:
    await register(client, "alice")
    statuses = await asyncio.gather(*(_login(client, "alice", WRONG) for _ in range(100)))
    assert {r.status_code for r in statuses} == {401}
    refused = await _login(client, "alice", PASSWORD)  # even the right password
    assert refused.status_code == 429
    assert refused.json()["code"] == "login_throttled"
    assert int(refused.headers["retry-after"]) > 0


async def test_the_throttle_window_slides(client: httpx.AsyncClient, clock: FrozenClock) -> None:
    await register(client, "alice")
    for _ in range(100):
        await _login(client, "alice", WRONG)
    assert (await _login(client, "alice", PASSWORD)).status_code == 429
    clock.advance(minutes=61)
    assert (await _login(client, "alice", PASSWORD)).status_code == 200


async def test_successful_logins_do_not_count(client: httpx.AsyncClient) -> None:
    await register(client, "alice")
    for _ in range(3):
        assert (await _login(client, "alice", PASSWORD)).status_code == 200
    for _ in range(99):
        await _login(client, "alice", WRONG)
    assert (await _login(client, "alice", PASSWORD)).status_code == 200


async def test_concurrent_guesses_never_exceed_the_limit(client: httpx.AsyncClient) -> None:
    await register(client, "alice")
    results = await asyncio.gather(*(_login(client, "alice", WRONG) for _ in range(130)))
    codes = [r.status_code for r in results]
    assert set(codes) == {401, 429}
    # Under a burst some guesses may be refused early (never late); keep guessing one at a
    # time until refused: exactly 100 guesses are ever checked.
    checked = codes.count(401)
    assert checked <= 100
    while (await _login(client, "alice", WRONG)).status_code == 401:
        checked += 1
        assert checked <= 100
    assert checked == 100


async def test_unknown_users_are_throttled_the_same_way(client: httpx.AsyncClient) -> None:
    for _ in range(100):
        assert (await _login(client, "nobody", WRONG)).status_code == 401
    assert (await _login(client, "nobody", WRONG)).status_code == 429


@pytest.mark.parametrize("limit", [5])
async def test_per_address_throttle(app_factory_limit: httpx.AsyncClient, limit: int) -> None:
    http = app_factory_limit
    for i in range(limit):
        assert (await _login(http, f"user{i}", WRONG)).status_code == 401
    # A fresh account name from the same address is now refused too.
    assert (await _login(http, "someone.else", WRONG)).status_code == 429


async def test_unknown_user_and_wrong_password_are_indistinguishable(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "alice")
    unknown = await _login(client, "mallory", WRONG)
    wrong = await _login(client, "alice", WRONG)
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    assert unknown.headers["content-type"] == wrong.headers["content-type"]
    assert set(unknown.headers) == set(wrong.headers)


async def test_unknown_user_and_wrong_password_take_similar_time(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "alice")

    async def timed(username: str) -> float:
        started = time.perf_counter()
        await _login(client, username, WRONG)
        return time.perf_counter() - started

    unknown, wrong = [], []
    for _ in range(15):  # interleaved, so machine noise hits both alike
        unknown.append(await timed("mallory"))
        wrong.append(await timed("alice"))
    ratio = statistics.median(unknown) / statistics.median(wrong)
    # Both pay for one argon2id verification; without the dummy hash the ratio would be ~0.05.
    assert 0.5 < ratio < 2.0, (statistics.median(unknown), statistics.median(wrong))
