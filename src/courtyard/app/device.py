"""One device app's state: the profile it serves, its ``Messenger`` once unlocked, and the
background sync that keeps it current and tells open pages when something changed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import TypeVar

import httpx

from courtyard.app.consent_watch import ConsentWatch, WatchedClient
from courtyard.client import (
    AuthError,
    Client,
    ClientError,
    ConsentRequired,
    Profile,
    Session,
    StoredSession,
)
from courtyard.client.crypto import KdfParams
from courtyard.client.messenger import Messenger

log = logging.getLogger("courtyard.app")
T = TypeVar("T")
RETRY_SECONDS = 2.0
KEEPALIVE_SECONDS = 15.0


class Locked(ClientError):
    """Nobody is signed in with this profile yet, or its crypto store is not unlocked."""


class DeviceState:
    """Holds the profile's session and messenger; every messenger call goes through ``use``.

    Args:
        profile_dir: The profile directory (session file, crypto store, local history).
        server: The server URL to sign up or in with (a stored session keeps its own).
        transport: An httpx transport for the SDK (tests pass ``ASGITransport``).
        kdf: Passphrase KDF parameters for a new crypto store (tests make it cheap).
    """

    def __init__(
        self,
        profile_dir: Path,
        server: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        kdf: KdfParams | None = None,
    ) -> None:
        self.profile = Profile(profile_dir)
        self.server = server.rstrip("/")
        self.transport = transport
        self.kdf = kdf
        self.messenger: Messenger | None = None
        self.display_name = ""
        self.username = ""
        self._lock = asyncio.Lock()
        self._changed = asyncio.Condition()
        self._version = 0
        self._sync_task: asyncio.Task[None] | None = None
        self.consent = ConsentWatch()

    # --- who is signed in -----------------------------------------------------------------

    def stored(self) -> StoredSession | None:
        return self.profile.load()

    @property
    def unlocked(self) -> bool:
        return self.messenger is not None

    async def sign_up(
        self,
        username: str,
        password: str,
        display_name: str,
        region: str,
        passphrase: str,
        *,
        policy_version_hash: str,
        purposes: Mapping[str, bool],
    ) -> None:
        """Create an account with this device as its first, consenting to the region's policy
        the user was shown, then open its crypto store."""

        async def register(client: Client) -> Session:
            return await client.register(
                username, password, display_name, region, "Device app",
                policy_version_hash=policy_version_hash, purposes=purposes,
            )  # fmt: skip

        await self._adopt(register, passphrase)

    async def sign_in(self, username: str, password: str, passphrase: str) -> None:
        """Sign in as a new device of an existing account, then create its crypto store."""

        async def login(client: Client) -> Session:
            return await client.login(username, password, "Device app")

        await self._adopt(login, passphrase)

    async def unlock(self, passphrase: str) -> None:
        """Open the stored session's crypto store (``WrongPassphrase`` if it does not fit)."""
        stored = self.stored()
        if stored is None:
            raise Locked("this profile is not signed in")
        client = self._client(stored.server, stored.access_token)
        try:
            await self._open(client, passphrase)
        except BaseException:
            await client.aclose()
            raise

    async def sign_out(self) -> None:
        """End this device's session on the server and forget it here."""
        if self.messenger is not None:
            with contextlib.suppress(AuthError):
                await self.messenger.client.logout()
        await self.lock()
        self.profile.clear()

    async def lock(self) -> None:
        """Stop syncing and close the stores (the session stays on disk)."""
        if self._sync_task is not None:
            self._sync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sync_task
            self._sync_task = None
        messenger, self.messenger = self.messenger, None
        if messenger is not None:
            async with self._lock:
                await messenger.close()
            await messenger.client.aclose()
        await self.changed()

    async def _adopt(
        self, sign_in: Callable[[Client], Awaitable[Session]], passphrase: str
    ) -> None:
        client = self._client(self.server, None)
        try:
            session = await sign_in(client)
            self.profile.save(self.server, session)
            await self._open(client, passphrase)
        except BaseException:
            await client.aclose()
            raise

    async def _open(self, client: Client, passphrase: str) -> None:
        messenger = await Messenger.open(client, self.profile.directory, passphrase, kdf=self.kdf)
        try:
            account = await client.whoami()
        except BaseException:
            await messenger.close()
            raise
        self.username, self.display_name = account.username, account.display_name
        self.messenger = messenger
        self._sync_task = asyncio.create_task(self._sync(messenger), name="device-app-sync")
        await self.changed()

    def _client(self, server: str, token: str | None) -> Client:
        return WatchedClient(server, token, transport=self.transport, watch=self.consent)

    @contextlib.asynccontextmanager
    async def account_client(self) -> AsyncIterator[Client]:
        """A client for the signed-in account, even while locked (consent comes before the
        crypto store opens); ``Locked`` if nobody is signed in."""
        if self.messenger is not None:
            yield self.messenger.client
            return
        stored = self.stored()
        if stored is None:
            raise Locked("this profile is not signed in")
        async with self._client(stored.server, stored.access_token) as client:
            yield client

    def public_client(self) -> Client:
        """A client without a session, for what the server shows anyone (policies)."""
        return self._client(self.server, None)

    async def check_consent(self) -> None:
        """Ask the server where this account stands with the consent gate and tell
        ``consent`` (nothing to ask with while locked; on failure keep what was known)."""
        messenger = self.messenger
        if messenger is None:
            return
        with contextlib.suppress(ClientError):
            self.consent.learnt(await messenger.client.privacy.consent_state())

    # --- using the messenger --------------------------------------------------------------

    async def use(self, action: Callable[[Messenger], Awaitable[T]]) -> T:
        """Run ``action`` on the messenger, one at a time (sync applies events in between)."""
        messenger = self.require()
        async with self._lock:
            return await action(messenger)

    def require(self) -> Messenger:
        if self.messenger is None:
            raise Locked("this device app is not signed in or unlocked")
        return self.messenger

    # --- change notification --------------------------------------------------------------

    async def changed(self) -> None:
        async with self._changed:
            self._version += 1
            self._changed.notify_all()

    async def updates(self) -> AsyncIterator[int]:
        """Yield the version each time something changed (and periodically, as keep-alive)."""
        seen = self._version
        while True:
            async with self._changed:
                if self._version == seen:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), KEEPALIVE_SECONDS)
                changed, seen = self._version != seen, self._version
            yield seen if changed else -1

    async def _sync(self, messenger: Messenger) -> None:
        # Messenger.sync_forever, plus a change notice after each event so pages refresh.
        while True:
            try:
                async for event in messenger.client.events():
                    async with self._lock:
                        await messenger.process([event])
                    await self.changed()
            except asyncio.CancelledError:
                raise
            except ConsentRequired as exc:
                # The server wants consent first: pages show it; sync resumes once given.
                self.consent.note(exc)
                await self.changed()
                await self.consent.wait_until_given()
                continue
            except AuthError:
                log.warning("the server ended this device's session; signing out here")
                self.profile.clear()
                self.messenger = None
                await messenger.close()
                await self.changed()
                return
            except Exception:
                log.exception("sync failed; retrying")
            await asyncio.sleep(RETRY_SECONDS)
