"""The forged-membership attack (Albrecht et al., IEEE S&P 2023): a malicious server adds a
member to a group. Devices share keys only with members whose admission a member signed, so
the added member gets no key and cannot read, and the devices say why."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from courtyard.client.conversations import history as server_history
from courtyard.client.crypto import MissingSessionKey
from courtyard.client.membership import admission
from tests.integration.messenger_support import Device, group


async def _server_adds(app: FastAPI, cid: str, user_id: str, forged: dict[str, Any] | None) -> None:
    """What a malicious server (or its database) does: write the member row itself."""
    runtime = app.state.runtime
    async with runtime.db.transaction() as tx:
        await tx.session.execute(
            text(
                "INSERT INTO conversation_members (conversation_id, user_id, state, role, "
                "since_seq, read_seq, invited_by, admission, updated_at) VALUES (:c, :u, "
                "'joined', 'member', 0, 0, NULL, :a, :t)"
            ).bindparams(c=cid, u=user_id, t=dt.datetime.now(dt.UTC).replace(tzinfo=None)),
            {"a": None if forged is None else json.dumps(forged)},
        )
        await tx.session.execute(
            text(
                "INSERT INTO user_conversations (user_id, conversation_id, state) "
                "VALUES (:u, :c, 'joined')"
            ),
            {"u": user_id, "c": cid},
        )


@pytest.mark.parametrize("how", ["unsigned", "signed by the intruder", "replayed elsewhere"])
async def test_a_member_added_by_the_server_gets_no_key(
    device: Device, app: FastAPI, how: str
) -> None:
    alice, bob, mallory = await device("alice"), await device("bob"), await device("mallory")
    cid = await group(alice, bob)
    forged: dict[str, Any] | None = None
    if how == "signed by the intruder":
        # Mallory's own device signs an "invite" claiming to come from Bob.
        forged = admission(mallory.crypto, cid, "invite", [mallory.user_id])
        forged["by_user"] = bob.user_id
    elif how == "replayed elsewhere":
        # A genuine admission of Mallory by Bob, but for another group.
        other = await group(bob, mallory)
        [elsewhere] = [c for c in await mallory.conversations() if c.conversation_id == other]
        [me] = [m for m in elsewhere.members if m.user_id == mallory.user_id]
        assert me.admission is not None
        forged = dict(me.admission)
    await _server_adds(app, cid, mallory.user_id, forged)

    sent = await alice.send_text(cid, "for alice and bob only")
    await bob.sync()
    await mallory.sync()

    assert mallory.user_id not in {d.user_id for d in sent.report.devices}
    assert [m.body for m in bob.messages(cid)] == ["for alice and bob only"]
    assert mallory.messages(cid) == []
    events, _ = await server_history(alice.client, cid)
    secret = next(e for e in events if e.event_id == sent.event_id)
    with pytest.raises(MissingSessionKey):
        mallory.crypto.decrypt_message(cid, secret.event_id, alice.user_id, secret.content)
    flagged = [d for d in await alice.conversation_security(cid) if d.user_id == mallory.user_id]
    assert [d.state for d in flagged] == ["refused"]
    assert flagged[0].reason is not None
    assert flagged[0].reason.startswith("member:")


async def test_a_properly_invited_member_gets_the_key(device: Device) -> None:
    alice, bob, carol = await device("alice"), await device("bob"), await device("carol")
    cid = await group(alice, bob)
    # Bob (a plain member) invites Carol through the normal path, with his signature; the
    # server's role rule is what normally stops members inviting — here the owner invites.
    await alice.invite(cid, [carol.user_id])
    await carol.join(cid)
    sent = await bob.send_text(cid, "welcome carol")
    await carol.sync()
    assert carol.user_id in {d.user_id for d in sent.report.devices}
    assert [m.body for m in carol.messages(cid)] == ["welcome carol"]
    states = {d.user_id: d.state for d in await bob.conversation_security(cid)}
    assert "refused" not in states.values()


async def test_a_third_member_in_a_direct_conversation_gets_nothing(
    device: Device, app: FastAPI
) -> None:
    alice, bob, mallory = await device("alice"), await device("bob"), await device("mallory")
    cid = (await alice.create_conversation([bob.user_id])).conversation_id
    await _server_adds(app, cid, mallory.user_id, None)
    sent = await alice.send_text(cid, "just us two")
    await mallory.sync()
    assert {d.user_id for d in sent.report.devices} <= {alice.user_id}
    assert mallory.messages(cid) == []
    assert "refused" in {d.state for d in await alice.conversation_security(cid)}
