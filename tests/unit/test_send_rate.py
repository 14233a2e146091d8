"""The send rate that decides whether a batch waits for company."""

from __future__ import annotations

import time

import pytest

from courtyard.domains.messaging.sending import GATHER_SECONDS, RATE_HALF_LIFE_SECONDS, SendRate


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(time, "monotonic", fake.monotonic)
    return fake


def test_a_steady_stream_reads_as_its_rate(fake_time: FakeTime) -> None:
    rate = SendRate()
    for _ in range(5000):  # 1,000 sends a second for 5 s (10 half-lives)
        fake_time.now += 0.001
        rate.count()
    assert rate.per_second() == pytest.approx(1000, rel=0.01)
    assert rate.per_second() * GATHER_SECONDS >= 1  # worth waiting for company


def test_a_lone_sender_never_makes_a_batch_wait(fake_time: FakeTime) -> None:
    rate = SendRate()
    for _ in range(200):  # one send at a time, each answered in ~3 ms
        fake_time.now += 0.003
        rate.count()
    assert rate.per_second() * GATHER_SECONDS < 1


def test_the_rate_fades_when_sending_stops(fake_time: FakeTime) -> None:
    rate = SendRate()
    for _ in range(2000):
        fake_time.now += 0.001
        rate.count()
    busy = rate.per_second()
    fake_time.now += RATE_HALF_LIFE_SECONDS
    assert rate.per_second() == pytest.approx(busy / 2)
