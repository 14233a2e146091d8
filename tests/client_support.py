"""Test helpers for the SDK: drain ``Client.events()`` in a background task.

Cancelling an async generator's ``__anext__`` (say, with a timeout) finalizes it, so tests
that want to check "nothing more arrives" consume the stream in a task instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

from courtyard.client import Client, SyncEvent


class Collector:
    """Consumes a stream in a task; ``events`` grows as they arrive, ``error`` if it raised."""

    def __init__(self, stream: AsyncIterator[SyncEvent]) -> None:
        self.stream = stream
        self.events: list[SyncEvent] = []
        self.error: BaseException | None = None
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Collector:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        aclose = getattr(self.stream, "aclose", None)
        if aclose is not None:
            await aclose()

    async def _run(self) -> None:
        try:
            async for event in self.stream:
                self.events.append(event)
                self._changed.set()
        except Exception as exc:
            self.error = exc
        finally:
            self._changed.set()

    @property
    def done(self) -> bool:
        return self._task is not None and self._task.done()

    async def wait_for(self, count: int, within: float = 5.0) -> list[SyncEvent]:
        """Wait until at least ``count`` events arrived; fail if the stream raised first."""
        async with asyncio.timeout(within):
            while len(self.events) < count:
                if self.error is not None:
                    raise AssertionError(f"stream failed after {self.types}") from self.error
                if self.done:
                    raise AssertionError(f"stream ended after {self.types}")
                self._changed.clear()
                await self._changed.wait()
        return self.events[:count]

    async def wait_for_error(self, within: float = 5.0) -> BaseException:
        """Wait until the stream raises, and return what it raised."""
        async with asyncio.timeout(within):
            while self.error is None:
                if self.done:
                    raise AssertionError(f"stream ended without an error after {self.types}")
                self._changed.clear()
                await self._changed.wait()
        return self.error

    async def settle(self, quiet: float = 0.3) -> list[SyncEvent]:
        """Give stragglers ``quiet`` seconds to arrive, then return everything received."""
        await asyncio.sleep(quiet)
        return list(self.events)

    @property
    def types(self) -> list[str]:
        return [event.type for event in self.events]


def assert_exactly_once_in_order(events: list[SyncEvent]) -> None:
    """Positions strictly increase and no event id repeats."""
    positions = [event.position for event in events]
    assert positions == sorted(set(positions)), f"positions out of order or repeated: {positions}"
    ids = [event.event_id for event in events]
    assert len(ids) == len(set(ids)), "an event id was delivered twice"


async def consent_for(client: Client, region: str) -> dict[str, Any]:
    """``Client.register`` keywords that consent to ``region``'s current policy, granting what
    the service and the wallet need (marketing not)."""
    policy = await client.privacy.policy_for(region)
    granted = [name for name, spec in policy.purposes.items() if spec.gates != "none"]
    return {"policy_version_hash": policy.version_hash, "purposes": policy.choices(*granted)}
