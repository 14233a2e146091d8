"""The running sandbox: its store, service, callback delivery and the background loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

import httpx

from courtyard.core.clock import Clock
from courtyard.sandbox.delivery import CallbackDelivery
from courtyard.sandbox.service import SandboxService
from courtyard.sandbox.store import SandboxStore

log = logging.getLogger(__name__)
CALLBACK_TIMEOUT_SECONDS = 10.0


class Sandbox:
    """Everything the app needs, opened and closed together by the app's lifespan."""

    def __init__(
        self, store: SandboxStore, service: SandboxService, delivery: CallbackDelivery
    ) -> None:
        self.store = store
        self.service = service
        self.delivery = delivery
        self._wake = asyncio.Event()

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        clock: Clock,
        callback_secret: bytes,
        callback_transport: httpx.AsyncBaseTransport | None = None,
        random_fraction: Callable[[], float] | None = None,
    ) -> Sandbox:
        """Open the database at ``path`` and an HTTP client for callbacks."""
        store = await SandboxStore.open(path)
        http = httpx.AsyncClient(
            transport=callback_transport,
            timeout=CALLBACK_TIMEOUT_SECONDS,
            follow_redirects=False,
        )
        service = SandboxService(store, clock, random_fraction=random_fraction)
        return cls(store, service, CallbackDelivery(store, clock, http, callback_secret))

    async def close(self) -> None:
        await self.delivery.http.aclose()
        await self.store.close()

    async def settle_due(self) -> int:
        """Settle the operations whose time has come; return how many."""
        return await self.service.settle_due()

    async def deliver_due(self) -> int:
        """Attempt the callbacks that are due; return how many were delivered."""
        return await self.delivery.deliver_due()

    def wake(self) -> None:
        """Ask the background loop to look for due work now rather than at its next poll."""
        self._wake.set()

    async def run(self, poll_interval: float) -> None:
        """Settle and deliver until cancelled, waking every ``poll_interval`` seconds."""
        while True:
            self._wake.clear()
            try:
                await self.settle_due()
                await self.deliver_due()
            except Exception:
                # One bad row or a full disk must not stop later deliveries; log and go on.
                log.exception("sandbox provider background step failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll_interval)
