"""Reads for the lawful-request desk (docs/legal-desk.md, "Data categories"): which accounts
an authority's identifiers name, a user's subscriber record and connection logs, and
operators' names for a case's timeline. Each runs in the caller's session."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.ids import is_id
from courtyard.domains.accounts.models import AccessToken, Device, Operator, User
from courtyard.domains.accounts.service import get_user_id_by_username


@dataclass(frozen=True, slots=True)
class NamedAccount:
    """An account as a legal case names it: its id, username and registration region."""

    user_id: str
    username: str
    region: str


async def find_accounts(
    session: AsyncSession, identifiers: Iterable[str]
) -> dict[str, NamedAccount]:
    """``identifier → account`` for each identifier that is a user id or a username of an
    account; identifiers that name none are left out."""
    wanted: dict[str, str] = {}
    for identifier in identifiers:
        user_id = identifier if is_id(identifier) else None
        user_id = user_id or await get_user_id_by_username(session, identifier)
        if user_id is not None:
            wanted[identifier] = user_id
    if not wanted:
        return {}
    rows = await session.execute(
        select(User.user_id, User.username, User.region).where(
            User.user_id.in_(sorted(set(wanted.values())))
        )
    )
    found = {row.user_id: NamedAccount(row.user_id, row.username, row.region) for row in rows}
    return {ident: found[uid] for ident, uid in wanted.items() if uid in found}


async def get_subscriber_record(session: AsyncSession, user_id: str) -> dict[str, Any] | None:
    """The account's current subscriber record (``users``), or None if it is gone."""
    user = await session.get(User, user_id)
    if user is None:
        return None
    return {
        "user_id": user.user_id,
        "username": user.username,
        "display_name": user.display_name,
        "region": user.region,
        "created_at": user.created_at,
    }


async def get_connection_records(
    session: AsyncSession, user_id: str, start: dt.datetime | None, end: dt.datetime | None
) -> dict[str, Any]:
    """The user's devices active in ``[start, end)`` (created before its end, last seen after
    its start) and the access tokens created in it; token hashes are never returned."""
    devices = select(Device).where(Device.user_id == user_id)
    tokens = select(AccessToken.device_id, AccessToken.created_at).where(
        AccessToken.user_id == user_id
    )
    if start is not None:
        devices = devices.where(Device.last_seen_at >= start)
        tokens = tokens.where(AccessToken.created_at >= start)
    if end is not None:
        devices = devices.where(Device.created_at < end)
        tokens = tokens.where(AccessToken.created_at < end)
    device_rows = await session.scalars(devices.order_by(Device.created_at, Device.device_id))
    token_rows = await session.execute(
        tokens.order_by(AccessToken.created_at, AccessToken.device_id)
    )
    return {
        "devices": [
            {"device_id": d.device_id, "created_at": d.created_at, "last_seen_at": d.last_seen_at}
            for d in device_rows
        ],
        "access_tokens": [
            {"device_id": row.device_id, "created_at": row.created_at} for row in token_rows
        ],
    }


async def get_operator_names(session: AsyncSession, operator_ids: Iterable[str]) -> dict[str, str]:
    """``operator_id → username`` for those of ``operator_ids`` that exist."""
    ids = sorted(set(operator_ids))
    if not ids:
        return {}
    rows = await session.execute(
        select(Operator.operator_id, Operator.username).where(Operator.operator_id.in_(ids))
    )
    return {row.operator_id: row.username for row in rows}
