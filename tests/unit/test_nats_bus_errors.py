"""A NATS slow-consumer error means hints were dropped: every reader must look again."""

from __future__ import annotations

from typing import cast

from nats.aio.subscription import Subscription
from nats.errors import SlowConsumerError

from courtyard.streams.nats_bus import NatsBus


async def test_a_slow_consumer_error_wakes_every_reader() -> None:
    bus = NatsBus("nats://127.0.0.1:1")
    resets: list[bool] = []
    bus.set_listeners(lambda _user, _position, _event: None, lambda: resets.append(True))
    dropped = SlowConsumerError(
        subject="courtyard.stream.u", reply="", sid=1, sub=cast(Subscription, object())
    )
    await bus._on_error(dropped)
    await bus._on_error(ConnectionResetError("a passing network error"))
    assert resets == [True]
