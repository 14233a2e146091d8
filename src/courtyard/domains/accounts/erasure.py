"""What erasing an account does to the accounts domain's tables: every row kept only for the
account goes (docs/user-rights.md, "What erasure does to each table")."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Executable, delete, select

from courtyard.db import Tx
from courtyard.domains.accounts.models import AccessToken, Device, LoginFailure, User, Username
from courtyard.domains.accounts.throttle import account_key


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """What other domains' erasure needs to know before the account rows go."""

    username: str | None
    device_ids: list[str] = field(default_factory=list)


async def get_account_facts(tx: Tx, user_id: str) -> AccountFacts:
    """The user's username (None if the account is already gone) and device ids."""
    username = await tx.session.scalar(select(User.username).where(User.user_id == user_id))
    devices = await tx.session.scalars(select(Device.device_id).where(Device.user_id == user_id))
    return AccountFacts(username, sorted(devices))


async def erase_account(tx: Tx, user_id: str, username: str | None) -> dict[str, int]:
    """Delete the user's tokens, devices, account row, username and login failures counted
    against it; returns the rows deleted per table. Afterwards nobody can sign in as them and
    the username is free."""
    counts = {
        "access_tokens": await _delete(
            tx, delete(AccessToken).where(AccessToken.user_id == user_id)
        ),
        "devices": await _delete(tx, delete(Device).where(Device.user_id == user_id)),
        "users": await _delete(tx, delete(User).where(User.user_id == user_id)),
        "usernames": await _delete(tx, delete(Username).where(Username.user_id == user_id)),
    }
    counts["login_failures"] = (
        await _delete(
            tx, delete(LoginFailure).where(LoginFailure.scope_key == account_key(username))
        )
        if username
        else 0
    )
    return counts


async def _delete(tx: Tx, statement: Executable) -> int:
    result = await tx.session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)
