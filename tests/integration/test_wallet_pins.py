"""The payment PIN's lockout on SQLite and PostgreSQL: exact under concurrent guesses,
patient with concurrent correct PINs, and not stuck after a node died mid-check."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest

from courtyard.core.clock import FrozenClock
from courtyard.db import Database
from courtyard.domains.accounts import Hasher
from courtyard.domains.wallet.errors import PinLocked, WrongPin
from courtyard.domains.wallet.pins import PinPolicy, Pins
from courtyard.streams import MemoryBus, StreamStore

USER = "01900000-0000-7000-8000-000000000001"
PIN = "246810"


class CountingHasher(Hasher):
    """A real argon2id hasher that counts verifications."""

    def __init__(self) -> None:
        super().__init__()
        self.verifications = 0

    async def verify(self, password_hash: str | None, password: str) -> bool:
        self.verifications += 1
        return await super().verify(password_hash, password)


@pytest.fixture
async def pins(database_url: str, clock: FrozenClock) -> AsyncIterator[Pins]:
    db = Database(database_url)
    streams = StreamStore(MemoryBus(), clock)
    async with db.transaction() as tx:
        await streams.create_stream(tx, USER)
    policy = PinPolicy(max_failures=5, lock=dt.timedelta(minutes=15))
    service = Pins(db, clock, CountingHasher(), streams, b"p" * 32, policy)
    await service.do_set(USER, PIN)
    try:
        yield service
    finally:
        await db.dispose()


def verifications(pins: Pins) -> int:
    assert isinstance(pins.hasher, CountingHasher)
    return pins.hasher.verifications


async def test_twenty_concurrent_wrong_guesses_get_five_verifications(pins: Pins) -> None:
    results = await asyncio.gather(
        *(pins.check(USER, "135790") for _ in range(20)), return_exceptions=True
    )
    assert all(isinstance(r, WrongPin | PinLocked) for r in results)
    assert verifications(pins) == 5
    assert sum(isinstance(r, WrongPin) for r in results) == 4  # the fifth locks
    with pytest.raises(PinLocked):
        await pins.check(USER, PIN)  # the right PIN is refused while locked
    assert verifications(pins) == 5


async def test_ten_concurrent_correct_pins_all_pass(pins: Pins) -> None:
    results = await asyncio.gather(*(pins.check(USER, PIN) for _ in range(10)))
    assert results == [None] * 10
    assert (await pins.state(USER)).locked_until is None


async def test_a_check_a_dead_node_never_finished_frees_its_slot(
    pins: Pins, clock: FrozenClock
) -> None:
    for _ in range(5):  # five checks begun on a node that then died
        await pins._begin_attempt(USER)
    waiting = asyncio.create_task(pins.check(USER, PIN))
    await asyncio.sleep(0.2)
    assert not waiting.done()  # every slot is taken
    clock.advance(seconds=31)
    await asyncio.wait_for(waiting, timeout=5)
    with pytest.raises(WrongPin) as wrong:
        await pins.check(USER, "135790")
    assert wrong.value.extra["attempts_left"] == 4  # the dead checks were not failures


async def test_a_lock_lapses_after_15_minutes(pins: Pins, clock: FrozenClock) -> None:
    for _ in range(5):
        with pytest.raises((WrongPin, PinLocked)):
            await pins.check(USER, "135790")
    with pytest.raises(PinLocked) as locked:
        await pins.check(USER, PIN)
    assert 0 < locked.value.retry_after <= 15 * 60
    clock.advance(minutes=15)
    await pins.check(USER, PIN)
    with pytest.raises(WrongPin) as wrong:
        await pins.check(USER, "135790")
    assert wrong.value.extra["attempts_left"] == 4
