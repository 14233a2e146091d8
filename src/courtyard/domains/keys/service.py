"""Device keys: upload identity, one-time and fallback keys; query them; claim them.

Every ``do_*`` is one transaction. Any signed-in user may query and claim any user's keys:
that is how an Olm session to another device starts. Claims take a one-time key exactly once,
even when several server nodes claim at the same moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from vodozemac import Ed25519PublicKey

from courtyard.core.clock import Clock
from courtyard.db import Database, Tx
from courtyard.domains.accounts import Identity
from courtyard.domains.keys.canonical import check_signature, ed25519_key
from courtyard.domains.keys.checks import (
    check_device_keys,
    check_one_time_key,
    unique_one_time_keys,
)
from courtyard.domains.keys.errors import (
    DeviceKeysImmutable,
    DeviceKeysMissing,
    KeyIdReused,
    TooManyOneTimeKeys,
)
from courtyard.domains.keys.models import DeviceKeys, FallbackKey, OneTimeKey
from courtyard.domains.keys.schemas import DeviceKeysObject, OneTimeKeyObject
from courtyard.streams import StreamStore

MAX_UNCLAIMED_ONE_TIME_KEYS = 100
LOW_ONE_TIME_KEYS = 10


@dataclass(frozen=True)
class KeyCounts:
    """What a device has left: unclaimed one-time keys, and whether an unused fallback key."""

    one_time_key_count: int
    fallback_key: bool


class KeysService:
    """The keys domain's public operations."""

    def __init__(self, db: Database, streams: StreamStore, clock: Clock) -> None:
        self.db = db
        self.streams = streams
        self.clock = clock

    # --- upload -------------------------------------------------------------------------

    async def do_upload(
        self,
        identity: Identity,
        device_keys: DeviceKeysObject | None,
        one_time_keys: Sequence[OneTimeKeyObject],
        fallback_key: OneTimeKeyObject | None,
    ) -> KeyCounts:
        """Store the caller's device keys, one-time keys and fallback key, all or nothing."""
        if device_keys is not None:
            check_device_keys(identity, device_keys)
        for otk in one_time_keys:
            check_one_time_key(identity, otk, fallback=False)
        if fallback_key is not None:
            check_one_time_key(identity, fallback_key, fallback=True)
        otks = unique_one_time_keys(one_time_keys)
        async with self.db.transaction() as tx:
            signing_key = await self._store_device_keys(tx, identity, device_keys)
            if otks or fallback_key is not None:
                if signing_key is None:
                    raise DeviceKeysMissing()
                for obj in [*otks, *([fallback_key] if fallback_key else [])]:
                    check_signature(obj.model_dump(), signing_key)
                await self._store_one_time_keys(tx, identity, otks)
                if fallback_key is not None:
                    await self._store_fallback_key(tx, identity, fallback_key)
            return await self._counts(tx.session, identity)

    async def _store_device_keys(
        self, tx: Tx, identity: Identity, device_keys: DeviceKeysObject | None
    ) -> Ed25519PublicKey | None:
        """Insert the identity keys unless on file; return the device's signing key, if any."""
        signed = device_keys.model_dump() if device_keys is not None else None
        if device_keys is not None:
            values = {
                "user_id": identity.user_id,
                "device_id": identity.device_id,
                "curve25519": device_keys.keys.curve25519,
                "ed25519": device_keys.keys.ed25519,
                "algorithms": device_keys.algorithms,
                "signed": signed,
                "uploaded_at": self.clock.now(),
            }
            await tx.session.execute(_insert_or_ignore(tx.session, DeviceKeys, values))
        # The row lock serialises one device's uploads on PostgreSQL (and so its key count).
        row = (
            await tx.session.execute(
                select(DeviceKeys.ed25519, DeviceKeys.signed)
                .where(_is_device(DeviceKeys, identity.user_id, identity.device_id))
                .with_for_update()
            )
        ).one_or_none()
        if row is None:
            return None
        if signed is not None and row.signed != signed:
            raise DeviceKeysImmutable()
        return ed25519_key(row.ed25519)

    async def _store_one_time_keys(
        self, tx: Tx, identity: Identity, otks: list[OneTimeKeyObject]
    ) -> None:
        if not otks:
            return
        where = _is_device(OneTimeKey, identity.user_id, identity.device_id)
        existing = dict(
            (
                await tx.session.execute(
                    select(OneTimeKey.key_id, OneTimeKey.key).where(
                        where, OneTimeKey.key_id.in_([o.key_id for o in otks])
                    )
                )
            ).all()
        )
        if any(existing.get(o.key_id, o.key) != o.key for o in otks):
            raise KeyIdReused()
        new = [o for o in otks if o.key_id not in existing]
        count = await tx.session.scalar(select(func.count()).select_from(OneTimeKey).where(where))
        if (count or 0) + len(new) > MAX_UNCLAIMED_ONE_TIME_KEYS:
            raise TooManyOneTimeKeys(
                f"a device may hold at most {MAX_UNCLAIMED_ONE_TIME_KEYS} unclaimed one-time keys"
            )
        if new:
            now = self.clock.now()
            await tx.session.execute(
                insert(OneTimeKey),
                [
                    {
                        "user_id": identity.user_id,
                        "device_id": identity.device_id,
                        "key_id": o.key_id,
                        "key": o.key,
                        "signed": o.model_dump(),
                        "created_at": now,
                    }
                    for o in new
                ],
            )

    async def _store_fallback_key(
        self, tx: Tx, identity: Identity, fallback: OneTimeKeyObject
    ) -> None:
        """Replace the fallback key (unused again); the same key once more changes nothing."""
        where = _is_device(FallbackKey, identity.user_id, identity.device_id)
        current = (
            await tx.session.execute(select(FallbackKey.key_id, FallbackKey.key).where(where))
        ).one_or_none()
        if current is not None and current.key_id == fallback.key_id:
            if current.key != fallback.key:
                raise KeyIdReused()
            return
        await tx.session.execute(delete(FallbackKey).where(where))
        await tx.session.execute(
            insert(FallbackKey).values(
                user_id=identity.user_id,
                device_id=identity.device_id,
                key_id=fallback.key_id,
                key=fallback.key,
                signed=fallback.model_dump(),
                used=False,
                created_at=self.clock.now(),
            )
        )

    # --- reads --------------------------------------------------------------------------

    async def get_counts(self, identity: Identity) -> KeyCounts:
        """How many one-time keys the caller's device has left, and whether a fallback key."""
        async with self.db.read() as session:
            return await self._counts(session, identity)

    async def get_device_keys(self, user_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """The signed device keys of every device of these users that uploaded them."""
        found: dict[str, list[dict[str, Any]]] = {}
        if not user_ids:
            return found
        async with self.db.read() as session:
            rows = await session.execute(
                select(DeviceKeys.user_id, DeviceKeys.signed)
                .where(DeviceKeys.user_id.in_(set(user_ids)))
                .order_by(DeviceKeys.user_id, DeviceKeys.device_id)
            )
            for user_id, signed in rows:
                found.setdefault(user_id, []).append(signed)
        return found

    @staticmethod
    async def _counts(session: AsyncSession, identity: Identity) -> KeyCounts:
        otks = await session.scalar(
            select(func.count())
            .select_from(OneTimeKey)
            .where(_is_device(OneTimeKey, identity.user_id, identity.device_id))
        )
        fallback = await session.scalar(
            select(func.count())
            .select_from(FallbackKey)
            .where(
                _is_device(FallbackKey, identity.user_id, identity.device_id),
                FallbackKey.used.is_(False),
            )
        )
        return KeyCounts(one_time_key_count=int(otks or 0), fallback_key=bool(fallback))

    # --- claim --------------------------------------------------------------------------

    async def do_claim(
        self, identity: Identity, devices: Sequence[tuple[str, str]]
    ) -> list[dict[str, Any]]:
        """Take one one-time key (else the fallback key) of each device; keyless ones are absent.

        ``identity`` is the claimer: any signed-in user may claim. Devices are visited in
        sorted order so concurrent claims lock stream heads in the same order.
        """
        wanted = list(dict.fromkeys(devices))
        claimed: dict[tuple[str, str], dict[str, Any]] = {}
        async with self.db.transaction() as tx:
            for user_id, device_id in sorted(wanted):
                key = await self._claim_one(tx, user_id, device_id)
                if key is not None:
                    claimed[(user_id, device_id)] = key
        return [claimed[device] for device in wanted if device in claimed]

    async def _claim_one(self, tx: Tx, user_id: str, device_id: str) -> dict[str, Any] | None:
        # SKIP LOCKED: a concurrent claim on PostgreSQL takes another key, never the same one.
        # SQLite has no row locks; its writer lock serialises claims instead.
        pick = (
            select(OneTimeKey.key_id)
            .where(_is_device(OneTimeKey, user_id, device_id))
            .order_by(OneTimeKey.created_at, OneTimeKey.key_id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        taken = (
            await tx.session.execute(
                delete(OneTimeKey)
                .where(_is_device(OneTimeKey, user_id, device_id), OneTimeKey.key_id == pick)
                .returning(OneTimeKey.signed)
            )
        ).scalar_one_or_none()
        if taken is not None:
            left = await tx.session.scalar(
                select(func.count())
                .select_from(OneTimeKey)
                .where(_is_device(OneTimeKey, user_id, device_id))
            )
            if (left or 0) < LOW_ONE_TIME_KEYS:
                content = {"device_id": device_id, "count": int(left or 0)}
                await self.streams.append(tx, user_id, "keys.one_time_keys_low", content)
            return dict(taken)
        return await self._claim_fallback(tx, user_id, device_id)

    async def _claim_fallback(self, tx: Tx, user_id: str, device_id: str) -> dict[str, Any] | None:
        """Hand out the fallback key; its first use (only) tells the owner, so it replenishes."""
        where = _is_device(FallbackKey, user_id, device_id)
        first_use = (
            await tx.session.execute(
                update(FallbackKey)
                .where(where, FallbackKey.used.is_(False))
                .values(used=True)
                .returning(FallbackKey.signed)
            )
        ).scalar_one_or_none()
        if first_use is not None:
            await self.streams.append(
                tx, user_id, "keys.fallback_key_used", {"device_id": device_id}
            )
            return dict(first_use)
        again = await tx.session.scalar(select(FallbackKey.signed).where(where))
        return dict(again) if again is not None else None


def _is_device(
    model: type[DeviceKeys | OneTimeKey | FallbackKey], user_id: str, device_id: str
) -> Any:
    return (model.user_id == user_id) & (model.device_id == device_id)


def _insert_or_ignore(
    session: AsyncSession, model: type[DeviceKeys], values: dict[str, Any]
) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` in the session's dialect."""
    dialect = session.get_bind().dialect.name
    build = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return build(model).values(**values).on_conflict_do_nothing()
