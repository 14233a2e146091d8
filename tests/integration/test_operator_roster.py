"""``OperatorRoster`` and ``OperatorSessions.access_operator`` below the command line: the
first operator cannot be made twice, two admins cannot demote each other to no admin, and the
domain refuses a non-admin even if a caller forgot to check."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest

from courtyard.core.clock import FrozenClock
from courtyard.db import Database
from courtyard.domains.accounts import (
    Hasher,
    InvalidCredentials,
    LoginThrottle,
    OperatorRoster,
    OperatorSessions,
    RoleRequired,
    SignedInOperator,
    ThrottleLimits,
)
from courtyard.domains.accounts.operator_roster import LastAdmin, OperatorRequired
from tests.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
def roster(db: Database, clock: FrozenClock) -> OperatorRoster:
    return OperatorRoster(db, clock, Hasher())


@pytest.fixture
def sessions(db: Database, clock: FrozenClock) -> OperatorSessions:
    limits = ThrottleLimits(window=dt.timedelta(hours=1), per_account=5, per_address=100)
    throttle = LoginThrottle(db, clock, limits, namespace="op:")
    return OperatorSessions(db, clock, Hasher(), throttle)


def as_actor(entry_id: str, username: str, *roles: str) -> SignedInOperator:
    return SignedInOperator(entry_id, username, frozenset(roles))


async def test_two_first_operators_at_once_make_exactly_one(roster: OperatorRoster) -> None:
    results = await asyncio.gather(
        roster.do_add_operator(None, "olga", PASSWORD, ["admin"]),
        roster.do_add_operator(None, "oscar", PASSWORD, ["admin"]),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(made) == 1
    assert [type(r) for r in refused] == [OperatorRequired]
    assert [e.username for e in await roster.get_roster()] == [made[0].username]


async def test_only_an_admin_adds_operators_or_changes_roles(roster: OperatorRoster) -> None:
    olga = await roster.do_add_operator(None, "olga", PASSWORD, ["admin", "finance"])
    finance_only = as_actor(olga.operator_id, "olga", "finance")  # a caller that did not check
    with pytest.raises(RoleRequired):
        await roster.do_add_operator(finance_only, "sam", PASSWORD, ["support"])
    with pytest.raises(RoleRequired):
        await roster.do_set_roles(finance_only, "olga", ["finance"])
    assert [(e.username, e.roles) for e in await roster.get_roster()] == [
        ("olga", ("admin", "finance"))
    ]


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    roster: OperatorRoster,
) -> None:
    olga = await roster.do_add_operator(None, "olga", PASSWORD, ["admin"])
    admin = as_actor(olga.operator_id, "olga", "admin")
    oscar = await roster.do_add_operator(admin, "oscar", PASSWORD, ["admin"])
    results = await asyncio.gather(
        roster.do_set_roles(admin, "oscar", ["finance"]),
        roster.do_set_roles(as_actor(oscar.operator_id, "oscar", "admin"), "olga", ["finance"]),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["LastAdmin", "OperatorEntry"]
    admins = [e for e in await roster.get_roster() if "admin" in e.roles]
    assert len(admins) == 1
    with pytest.raises(LastAdmin):
        await roster.do_set_roles(admin, admins[0].username, ["support"])


async def test_access_operator_checks_password_then_roles(
    roster: OperatorRoster, sessions: OperatorSessions
) -> None:
    olga = await roster.do_add_operator(None, "olga", PASSWORD, ["admin", "support"])
    signed_in = await sessions.access_operator("OLGA", PASSWORD, ("finance", "support"))
    assert (signed_in.operator_id, signed_in.roles) == (
        olga.operator_id,
        frozenset({"admin", "support"}),
    )
    assert (await sessions.access_operator("olga", PASSWORD, ())).username == "olga"
    with pytest.raises(RoleRequired, match="the role legal_approver; olga holds admin, support"):
        await sessions.access_operator("olga", PASSWORD, ("legal_approver",))
    for name, password in (("olga", "not her password"), ("nobody", PASSWORD), ("a b", PASSWORD)):
        with pytest.raises(InvalidCredentials):
            await sessions.access_operator(name, password, ("admin",))
    with pytest.raises(ValueError, match="unknown operator roles"):
        await sessions.access_operator("olga", PASSWORD, ("root",))
