"""Accounts: register, log in and out, passwords, profile, and the devices each login makes.

Every ``do_*`` is one user-visible write in one transaction; stream events are appended in
that transaction and the bus is told only after commit.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import delete, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.clock import Clock
from courtyard.core.errors import PermissionDenied
from courtyard.core.ids import new_id
from courtyard.db import Database, Tx
from courtyard.db.pg_bulk import one_of
from courtyard.domains.accounts.errors import (
    DeviceNotFound,
    InvalidCredentials,
    InvalidToken,
    InvalidUsername,
    UsernameTaken,
    UserNotFound,
)
from courtyard.domains.accounts.last_seen import LastSeen
from courtyard.domains.accounts.models import AccessToken, Device, User, Username
from courtyard.domains.accounts.passwords import Hasher, check_password_rules
from courtyard.domains.accounts.throttle import LoginThrottle
from courtyard.domains.accounts.validation import check_display_name, check_region, check_username
from courtyard.streams import StreamStore

TOKEN_PREFIX = "cyt_"  # noqa: S105 - a public prefix that makes leaked tokens easy to spot
DEFAULT_DEVICE_NAME = "New device"
LAST_SEEN_GRANULARITY_SECONDS = 300
_EXISTING_USERS = {  # built once: on a hot path (transfers) building costs more than running
    dialect: select(User.user_id).where(one_of(User.user_id, "user_ids", dialect))
    for dialect in ("postgresql", "sqlite")
}


class WrongPassword(PermissionDenied):
    code = "wrong_password"
    title = "The current password is wrong"


@dataclass(frozen=True)
class Identity:
    """Who a request is: the user and the device whose token it carries."""

    user_id: str
    device_id: str


@dataclass(frozen=True)
class LoginResult:
    user_id: str
    username: str
    device_id: str
    access_token: str


async def existing_devices(
    session: AsyncSession, targets: set[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which of the ``(user_id, device_id)`` pairs are devices now (in the caller's session)."""
    if not targets:
        return set()
    rows = await session.execute(
        select(Device.user_id, Device.device_id).where(
            tuple_(Device.user_id, Device.device_id).in_(sorted(targets))
        )
    )
    return {(user_id, device_id) for user_id, device_id in rows}


async def existing_users(session: AsyncSession, user_ids: set[str]) -> set[str]:
    """Which of ``user_ids`` are accounts now (in the caller's session)."""
    if not user_ids:
        return set()
    statement = _EXISTING_USERS[session.get_bind().dialect.name]
    return set(await session.scalars(statement, {"user_ids": sorted(user_ids)}))


async def get_profiles(session: AsyncSession, user_ids: set[str]) -> dict[str, tuple[str, str]]:
    """``user_id → (username, display_name)`` for those of ``user_ids`` that exist."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(User.user_id, User.username, User.display_name).where(
            User.user_id.in_(sorted(user_ids))
        )
    )
    return {row.user_id: (row.username, row.display_name) for row in rows}


async def get_user_id_by_username(session: AsyncSession, username: str) -> str | None:
    """The id of the account called ``username`` (None also for a malformed name)."""
    try:
        canonical = check_username(username)
    except InvalidUsername:
        return None
    user_id: str | None = await session.scalar(
        select(Username.user_id).where(Username.username == canonical)
    )
    return user_id


async def get_user_region(session: AsyncSession, user_id: str) -> str | None:
    """The country ``user_id`` registered with (None if there is no such account)."""
    region: str | None = await session.scalar(select(User.region).where(User.user_id == user_id))
    return region


class RegistrationConsent(Protocol):
    """What registration needs from the privacy domain (wired by the runtime, so accounts does
    not import privacy): check the consent a registration carries, then record it in the
    registration's transaction (docs/privacy-consent.md, "Consent at registration")."""

    async def check_registration(
        self, region: str, policy_version_hash: str, purposes: Mapping[str, bool]
    ) -> None: ...

    async def record_registration(
        self,
        tx: Tx,
        *,
        user_id: str,
        device_id: str,
        region: str,
        policy_version_hash: str,
        purposes: Mapping[str, bool],
    ) -> None: ...


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class AccountsService:
    """The accounts domain's public operations."""

    def __init__(
        self,
        db: Database,
        streams: StreamStore,
        clock: Clock,
        hasher: Hasher,
        throttle: LoginThrottle,
        *,
        consent: RegistrationConsent,
    ) -> None:
        self.db = db
        self.streams = streams
        self.clock = clock
        self.hasher = hasher
        self.throttle = throttle
        self.consent = consent
        self.last_seen = LastSeen(db)

    # --- registration and sessions ------------------------------------------------------

    async def do_register(
        self,
        username: str,
        password: str,
        display_name: str,
        region: str,
        device_name: str | None,
        *,
        policy_version_hash: str,
        purposes: Mapping[str, bool],
    ) -> LoginResult:
        """Create an account and its first device; the username must be free, and the
        consent to the region's current policy is recorded in the same transaction."""
        username = check_username(username)
        password = check_password_rules(password, username=username)
        display_name = check_display_name(display_name)
        region = check_region(region)
        device_name = check_display_name(device_name or DEFAULT_DEVICE_NAME, field="device_name")
        purposes = dict(purposes)
        # Before the costly hash: a stale policy or a missing purpose is a common mistake.
        await self.consent.check_registration(region, policy_version_hash, purposes)
        password_hash = await self.hasher.hash(password)
        user_id, now = new_id(), self.clock.now()
        try:
            async with self.db.transaction() as tx:
                tx.session.add(Username(username=username, user_id=user_id))
                await tx.session.flush()
                tx.session.add(
                    User(
                        user_id=user_id,
                        username=username,
                        display_name=display_name,
                        region=region,
                        password_hash=password_hash,
                        created_at=now,
                        password_changed_at=now,
                    )
                )
                await tx.session.flush()
                await self.streams.create_stream(tx, user_id)
                device_id, token = await self._add_device(tx, user_id, device_name)
                await self.consent.record_registration(
                    tx, user_id=user_id, device_id=device_id, region=region,
                    policy_version_hash=policy_version_hash, purposes=purposes,
                )  # fmt: skip
        except IntegrityError:
            raise UsernameTaken() from None
        return LoginResult(user_id, username, device_id, token)

    async def do_login(
        self, username: str, password: str, device_name: str | None, address: str | None
    ) -> LoginResult:
        """Check the password and add a device. Unknown user and wrong password look alike."""
        device_name = check_display_name(device_name or DEFAULT_DEVICE_NAME, field="device_name")
        attempt = await self.throttle.begin(username, address)
        try:
            canonical = check_username(username)
        except Exception:
            canonical = None
        user = await self._user_by_username(canonical) if canonical else None
        # Always pay for one argon2 verification, even for an unknown user.
        if (
            not await self.hasher.verify(user.password_hash if user else None, password)
            or user is None
        ):
            raise InvalidCredentials()
        await self.throttle.forget(attempt)
        async with self.db.transaction() as tx:
            device_id, token = await self._add_device(tx, user.user_id, device_name)
        return LoginResult(user.user_id, user.username, device_id, token)

    async def do_logout(self, identity: Identity) -> None:
        """End this device's session: its tokens stop working and the device is removed."""
        await self.do_remove_device(identity, identity.device_id)

    async def authenticate(self, token: str) -> Identity:
        """Resolve a bearer token to an identity, or raise ``InvalidToken``."""
        identity, _acked = await self.authenticate_device(token)
        return identity

    async def authenticate_device(self, token: str) -> tuple[Identity, int]:
        """The identity behind a bearer token and the position its device last acknowledged
        (what a sync socket needs), in one read; ``InvalidToken`` if there is none. The
        device's last-seen time is noted and written in the background (``LastSeen``)."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
            raise InvalidToken()
        async with self.db.read() as session:
            row = (
                await session.execute(
                    select(
                        AccessToken.user_id, AccessToken.device_id, Device.last_seen_at,
                        Device.acked_position,
                    )
                    .join(
                        Device,
                        (Device.user_id == AccessToken.user_id)
                        & (Device.device_id == AccessToken.device_id),
                    )
                    .where(AccessToken.token_hash == hash_token(token))
                )
            ).one_or_none()  # fmt: skip
        if row is None:
            raise InvalidToken()
        identity = Identity(user_id=row.user_id, device_id=row.device_id)
        now = self.clock.now()
        if (now - row.last_seen_at).total_seconds() >= LAST_SEEN_GRANULARITY_SECONDS:
            self.last_seen.note(identity.user_id, identity.device_id, now)
        return identity, int(row.acked_position)

    async def is_token_live(self, identity: Identity, token: str) -> bool:
        """Whether ``token`` still belongs to ``identity`` (checked by long-lived sockets)."""
        async with self.db.read() as session:
            found = await session.scalar(
                select(AccessToken.device_id).where(AccessToken.token_hash == hash_token(token))
            )
        return found == identity.device_id

    # --- passwords and profile ----------------------------------------------------------

    async def do_change_password(
        self, identity: Identity, current: str, new: str, *, logout_other_devices: bool = True
    ) -> None:
        """Replace the password after checking the current one; end other sessions by default."""
        user = await self.check_password(identity, current)
        new = check_password_rules(new, username=user.username)
        new_hash = await self.hasher.hash(new)
        async with self.db.transaction() as tx:
            await tx.session.execute(
                update(User)
                .where(User.user_id == user.user_id)
                .values(password_hash=new_hash, password_changed_at=self.clock.now())
            )
            if logout_other_devices:
                others = await tx.session.scalars(
                    select(Device.device_id).where(
                        Device.user_id == user.user_id, Device.device_id != identity.device_id
                    )
                )
                for device_id in list(others):
                    await self._remove_device(tx, user.user_id, device_id)

    async def check_password(self, identity: Identity, password: str) -> User:
        """Confirm the signed-in user knows their password (throttled like a login), before a
        sensitive change; raise ``WrongPassword`` otherwise."""
        user = await self.get_user(identity.user_id)
        attempt = await self.throttle.begin(user.username, None)
        if not await self.hasher.verify(user.password_hash, password):
            raise WrongPassword()
        await self.throttle.forget(attempt)
        return user

    async def get_user(self, user_id: str) -> User:
        async with self.db.read() as session:
            user = await session.get(User, user_id)
        if user is None:
            raise InvalidToken()
        return user

    async def access_user_by_username(self, username: str) -> User:
        """The account with ``username`` (as other signed-in users may look it up)."""
        try:
            canonical = check_username(username)
        except InvalidUsername:
            raise UserNotFound() from None
        user = await self._user_by_username(canonical)
        if user is None:
            raise UserNotFound()
        return user

    async def do_update_profile(self, identity: Identity, display_name: str) -> User:
        """Change the display name and tell the user's devices."""
        display_name = check_display_name(display_name)
        async with self.db.transaction() as tx:
            await tx.session.execute(
                update(User)
                .where(User.user_id == identity.user_id)
                .values(display_name=display_name)
            )
            await self.streams.append(
                tx, identity.user_id, "profile.changed", {"display_name": display_name}
            )
        return await self.get_user(identity.user_id)

    # --- devices ------------------------------------------------------------------------

    async def get_devices(self, identity: Identity) -> list[Device]:
        async with self.db.read() as session:
            rows = await session.scalars(
                select(Device).where(Device.user_id == identity.user_id).order_by(Device.created_at)
            )
            return list(rows)

    async def access_device(self, identity: Identity, device_id: str) -> Device:
        """The caller's own device ``device_id``; another user's device is simply not found."""
        async with self.db.read() as session:
            device = await session.get(Device, (identity.user_id, device_id))
        if device is None:
            raise DeviceNotFound()
        return device

    async def do_rename_device(self, identity: Identity, device_id: str, name: str) -> Device:
        name = check_display_name(name, field="display_name")
        async with self.db.transaction() as tx:
            result = await tx.session.execute(
                update(Device)
                .where(Device.user_id == identity.user_id, Device.device_id == device_id)
                .values(display_name=name)
            )
            if not getattr(result, "rowcount", 0):
                raise DeviceNotFound()
            await self.streams.append(
                tx,
                identity.user_id,
                "device.renamed",
                {"device_id": device_id, "display_name": name},
            )
        return await self.access_device(identity, device_id)

    async def do_remove_device(self, identity: Identity, device_id: str) -> None:
        """Remove one of the caller's devices; its tokens stop working at once."""
        async with self.db.transaction() as tx:
            if not await self._remove_device(tx, identity.user_id, device_id):
                raise DeviceNotFound()

    async def do_ack_position(self, identity: Identity, position: int) -> None:
        """Remember that the device has every stream event up to ``position``.

        Acks only move forward and never past the stream's head, so a confused client cannot
        make its device skip events that do not exist yet.
        """
        async with self.db.transaction() as tx:
            if position > await StreamStore.head(tx.session, identity.user_id):
                return
            await tx.session.execute(
                update(Device)
                .where(
                    Device.user_id == identity.user_id,
                    Device.device_id == identity.device_id,
                    Device.acked_position < position,
                )
                .values(acked_position=position)
            )

    # --- internals ----------------------------------------------------------------------

    async def _user_by_username(self, username: str) -> User | None:
        async with self.db.read() as session:
            user_id = await session.scalar(
                select(Username.user_id).where(Username.username == username)
            )
            return await session.get(User, user_id) if user_id else None

    async def _add_device(self, tx: Tx, user_id: str, name: str) -> tuple[str, str]:
        device_id, now = new_id(), self.clock.now()
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        # A new device starts at the stream's head: what came before was for other devices
        # (and is end-to-end encrypted to them); it is entitled to what comes from now on.
        head = await StreamStore.head(tx.session, user_id)
        await tx.session.execute(
            insert(Device).values(
                user_id=user_id,
                device_id=device_id,
                display_name=name,
                created_at=now,
                last_seen_at=now,
                acked_position=head,
            )
        )
        await tx.session.execute(
            insert(AccessToken).values(
                token_hash=hash_token(token), user_id=user_id, device_id=device_id, created_at=now
            )
        )
        await self.streams.append(
            tx, user_id, "device.added", {"device_id": device_id, "display_name": name}
        )
        return device_id, token

    async def _remove_device(self, tx: Tx, user_id: str, device_id: str) -> bool:
        await tx.session.execute(
            delete(AccessToken).where(
                AccessToken.user_id == user_id, AccessToken.device_id == device_id
            )
        )
        result = await tx.session.execute(
            delete(Device).where(Device.user_id == user_id, Device.device_id == device_id)
        )
        if not getattr(result, "rowcount", 0):
            return False
        await self.streams.append(tx, user_id, "device.removed", {"device_id": device_id})
        return True
