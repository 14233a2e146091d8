"""Groups up to 500 members: the cap holds, and one message fans out to every member."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import bearer, register
from tests.integration.conversation_support import send, stream

GROUP_CAP = 500


@pytest.mark.usefixtures("fast_password_hashing")
async def test_a_group_holds_at_most_500_members(client: httpx.AsyncClient) -> None:
    owner = await register(client, "owner")
    people = [await register(client, f"user{i:03d}") for i in range(GROUP_CAP)]
    created = await client.post(
        "/v1/conversations",
        json={"kind": "group", "members": [p["user_id"] for p in people[: GROUP_CAP - 1]]},
        headers=bearer(owner),
    )
    assert created.status_code == 201, created.text
    cid = created.json()["conversation_id"]
    assert len(created.json()["members"]) == GROUP_CAP
    one_more = await client.post(
        f"/v1/conversations/{cid}/members",
        json={"user_ids": [people[-1]["user_id"]]},
        headers=bearer(owner),
    )
    assert one_more.status_code == 409
    assert one_more.json()["code"] == "conversation_full"

    # Inviting 499 people was one timeline event, fanned out once to each of the 500.
    invites = [e for e in await stream(client, people[7]) if e["content"]["type"] == "m.member"]
    assert len(invites) == 1
    assert len(invites[0]["content"]["content"]["user_ids"]) == GROUP_CAP - 1


@pytest.mark.usefixtures("fast_password_hashing")
async def test_one_message_reaches_every_joined_member_once(client: httpx.AsyncClient) -> None:
    owner = await register(client, "owner")
    people = [await register(client, f"user{i:03d}") for i in range(60)]
    created = await client.post(
        "/v1/conversations",
        json={"kind": "group", "members": [p["user_id"] for p in people]},
        headers=bearer(owner),
    )
    cid = created.json()["conversation_id"]
    for person in people[:50]:  # ten stay invited
        await client.post(f"/v1/conversations/{cid}/join", headers=bearer(person))
    seq = (await send(client, owner, cid)).json()["seq"]
    for person in [owner, *people]:
        delivered = [
            e for e in await stream(client, person)
            if e["content"]["type"] == "m.encrypted" and e["content"]["seq"] == seq
        ]  # fmt: skip
        assert len(delivered) == (1 if person is owner or person in people[:50] else 0)
