"""Delivery of queued callbacks: signed POSTs retried until a 2xx, 1 s doubling to 1 h, 24 h."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

import httpx

from courtyard.core.callback_signatures import SIGNATURE_HEADER, sign
from courtyard.core.clock import Clock
from courtyard.sandbox.store import OutboxCallback, SandboxStore, parse_iso

log = logging.getLogger(__name__)
FIRST_RETRY = dt.timedelta(seconds=1)
MAX_RETRY = dt.timedelta(hours=1)
GIVE_UP_AFTER = dt.timedelta(hours=24)
USER_AGENT = "courtyard-sandbox-provider"


def retry_delay(attempts: int) -> dt.timedelta:
    """Wait after the ``attempts``-th failed attempt: 1 s, 2 s, 4 s, ... at most 1 h."""
    return min(FIRST_RETRY * (1 << min(attempts - 1, 20)), MAX_RETRY)


def wrong_key(secret: bytes) -> bytes:
    """A key that is certainly not ``secret``, for the ``bad_signature`` behaviour."""
    return hashlib.sha256(b"courtyard-sandbox-wrong-key:" + secret).digest()


class CallbackDelivery:
    """Sends due outbox callbacks; all progress is in the database, so a restart carries on."""

    def __init__(
        self, store: SandboxStore, clock: Clock, http: httpx.AsyncClient, secret: bytes
    ) -> None:
        self.store = store
        self.clock = clock
        self.http = http
        self.secret = secret

    async def deliver_due(self) -> int:
        """Attempt every callback that is due; return how many were delivered."""
        delivered = 0
        for callback in await self.store.due_callbacks(self.clock.now()):
            delivered += await self._attempt(callback)
        return delivered

    async def _attempt(self, callback: OutboxCallback) -> bool:
        t = int(self.clock.now().timestamp())
        key = wrong_key(self.secret) if callback.bad_signature else self.secret
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(key, callback.body, t),
        }
        error: str | None = None
        try:
            response = await self.http.post(
                callback.callback_url, content=callback.body, headers=headers
            )
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        else:
            if not response.is_success:
                error = f"HTTP {response.status_code}"
        await self._record(callback, error)
        return error is None

    async def _record(self, callback: OutboxCallback, error: str | None) -> None:
        now = self.clock.now()
        if error is None:
            await self.store.record_attempt(callback, now, delivered=True)
            return
        attempts = callback.attempts + 1
        if now - parse_iso(callback.created_at) >= GIVE_UP_AFTER:
            log.warning("sandbox callback %s abandoned: %s", callback.event_id, error)
            await self.store.record_attempt(callback, now, delivered=False, error=error)
            return
        await self.store.record_attempt(
            callback,
            now,
            delivered=False,
            error=error,
            next_attempt_at=now + retry_delay(attempts),
        )
