"""Conversations: 1:1 and groups, roles, invitations, and who sees what."""

from __future__ import annotations

import httpx

from tests.conftest import bearer
from tests.integration.conversation_support import create, send, stream, users


async def test_a_direct_conversation_is_unique_and_joined_by_both(
    client: httpx.AsyncClient,
) -> None:
    alice, bob = await users(client, "alice", "bob")
    first = await create(client, alice, "direct", [bob])
    assert first.status_code == 201, first.text
    again = await create(client, bob, "direct", [alice])
    assert again.json()["conversation_id"] == first.json()["conversation_id"]
    members = {m["user_id"]: (m["state"], m["role"]) for m in first.json()["members"]}
    assert members == {alice["user_id"]: ("joined", "member"), bob["user_id"]: ("joined", "member")}
    for who in (alice, bob):
        listed = (await client.get("/v1/conversations", headers=bearer(who))).json()
        assert [c["conversation_id"] for c in listed] == [first.json()["conversation_id"]]


async def test_bad_creations_are_refused(client: httpx.AsyncClient) -> None:
    alice, bob = await users(client, "alice", "bob")
    assert (await create(client, alice, "direct", [alice])).json()["code"] == "invalid_input"
    assert (await create(client, alice, "direct", [bob], name="x")).status_code == 400
    ghost = {"user_id": "01000000-0000-7000-8000-000000000000"}
    unknown = await create(client, alice, "group", [bob, ghost])
    assert unknown.json()["code"] == "unknown_user"
    assert (await client.get("/v1/conversations", headers=bearer(bob))).json() == []


async def test_group_invitees_join_before_they_can_read_or_send(client: httpx.AsyncClient) -> None:
    alice, bob, carol = await users(client, "alice", "bob", "carol")
    group = (await create(client, alice, "group", [bob, carol], name="Trip")).json()
    cid = group["conversation_id"]
    assert {m["user_id"]: m["state"] for m in group["members"]}[bob["user_id"]] == "invited"
    refused = await send(client, bob, cid)
    assert refused.status_code == 403
    assert refused.json()["code"] == "not_a_member"
    assert (await send(client, alice, cid, "before bob joined")).status_code == 200
    assert (
        await client.post(f"/v1/conversations/{cid}/join", headers=bearer(bob))
    ).status_code == 204
    sent = await send(client, bob, cid, "bob here")
    assert sent.status_code == 200
    # Bob's history starts at his join: he never sees the earlier message.
    history = (await client.get(f"/v1/conversations/{cid}/messages", headers=bearer(bob))).json()
    assert [e["type"] for e in history["events"]] == ["m.member", "m.encrypted"]
    assert history["events"][0]["content"] == {
        "user_id": bob["user_id"], "membership": "join", "role": "member",
    }  # fmt: skip
    # Carol (still invited) got the membership events but no ciphertext.
    carol_types = [e["content"]["type"] for e in await stream(client, carol)]
    assert "m.member" in carol_types
    assert "m.encrypted" not in carol_types


async def test_non_members_see_nothing(client: httpx.AsyncClient) -> None:
    alice, bob, mallory = await users(client, "alice", "bob", "mallory")
    cid = (await create(client, alice, "direct", [bob])).json()["conversation_id"]
    for response in (
        await client.get(f"/v1/conversations/{cid}", headers=bearer(mallory)),
        await client.get(f"/v1/conversations/{cid}/messages", headers=bearer(mallory)),
        await send(client, mallory, cid),
        await client.post(f"/v1/conversations/{cid}/join", headers=bearer(mallory)),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "conversation_not_found"
    assert await stream(client, mallory) == []


async def test_roles_decide_who_may_invite_rename_and_remove(client: httpx.AsyncClient) -> None:
    alice, bob, carol, dave = await users(client, "alice", "bob", "carol", "dave")
    cid = (await create(client, alice, "group", [bob, carol])).json()["conversation_id"]
    for who in (bob, carol):
        await client.post(f"/v1/conversations/{cid}/join", headers=bearer(who))
    url = f"/v1/conversations/{cid}"
    invite = {"user_ids": [dave["user_id"]]}
    denied = await client.post(f"{url}/members", json=invite, headers=bearer(bob))
    assert denied.json()["code"] == "not_allowed"
    assert (await client.patch(url, json={"name": "x"}, headers=bearer(bob))).status_code == 403
    # The owner makes Bob an admin; now he may invite and rename, but not remove an admin.
    promoted = await client.put(
        f"{url}/members/{bob['user_id']}/role", json={"role": "admin"}, headers=bearer(alice)
    )
    assert promoted.status_code == 204
    assert (
        await client.post(f"{url}/members", json=invite, headers=bearer(bob))
    ).status_code == 204
    assert (await client.patch(url, json={"name": "Plans"}, headers=bearer(bob))).status_code == 204
    assert (
        await client.delete(f"{url}/members/{alice['user_id']}", headers=bearer(bob))
    ).status_code == 403
    assert (
        await client.delete(f"{url}/members/{carol['user_id']}", headers=bearer(bob))
    ).status_code == 204
    convo = (await client.get(url, headers=bearer(alice))).json()
    assert convo["name"] == "Plans"
    assert {m["user_id"]: m["role"] for m in convo["members"]} == {
        alice["user_id"]: "owner", bob["user_id"]: "admin", dave["user_id"]: "member",
    }  # fmt: skip
    # Carol learns she was removed, then can no longer read.
    removal = (await stream(client, carol))[-1]["content"]
    assert removal["content"] == {"user_id": carol["user_id"], "membership": "remove"}
    assert (await client.get(f"{url}/messages", headers=bearer(carol))).status_code == 404


async def test_an_owner_who_leaves_hands_the_group_to_an_admin(client: httpx.AsyncClient) -> None:
    alice, bob, carol = await users(client, "alice", "bob", "carol")
    cid = (await create(client, alice, "group", [bob, carol])).json()["conversation_id"]
    for who in (bob, carol):
        await client.post(f"/v1/conversations/{cid}/join", headers=bearer(who))
    await client.put(
        f"/v1/conversations/{cid}/members/{carol['user_id']}/role", json={"role": "admin"},
        headers=bearer(alice),
    )  # fmt: skip
    assert (
        await client.post(f"/v1/conversations/{cid}/leave", headers=bearer(alice))
    ).status_code == 204
    roles = {
        m["user_id"]: m["role"]
        for m in (await client.get(f"/v1/conversations/{cid}", headers=bearer(bob))).json()[
            "members"
        ]
    }
    assert roles == {bob["user_id"]: "member", carol["user_id"]: "owner"}


async def test_direct_conversations_cannot_be_left(client: httpx.AsyncClient) -> None:
    alice, bob = await users(client, "alice", "bob")
    cid = (await create(client, alice, "direct", [bob])).json()["conversation_id"]
    response = await client.post(f"/v1/conversations/{cid}/leave", headers=bearer(alice))
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_membership"


async def test_signed_admissions_are_stored_as_given_and_must_describe_the_request(
    client: httpx.AsyncClient,
) -> None:
    alice, bob, carol = await users(client, "alice", "bob", "carol")
    cid = "01a22400-0000-7000-8000-000000000001"
    admission = {
        "conversation_id": cid, "action": "create",
        "user_ids": sorted([alice["user_id"], bob["user_id"]]),
        "by_user": alice["user_id"], "by_device": alice["device_id"], "signature": "c2lnbmVk",
    }  # fmt: skip
    body = {"kind": "group", "members": [bob["user_id"]], "name": "Signed",
            "conversation_id": cid}  # fmt: skip
    wrong = [
        {**admission, "action": "invite"},
        {**admission, "conversation_id": "01a22400-0000-7000-8000-000000000002"},
        {**admission, "by_device": "someone-else"},
        {**admission, "user_ids": [alice["user_id"], carol["user_id"]]},
    ]
    for bad in wrong:
        refused = await client.post("/v1/conversations", json={**body, "admission": bad},
                                    headers=bearer(alice))  # fmt: skip
        assert refused.status_code == 400
        assert refused.json()["code"] == "invalid_admission"
    created = await client.post(
        "/v1/conversations", json={**body, "admission": admission}, headers=bearer(alice)
    )
    assert created.status_code == 201, created.text
    assert created.json()["conversation_id"] == cid
    assert {m["user_id"]: m["admission"] for m in created.json()["members"]} == {
        alice["user_id"]: admission, bob["user_id"]: admission,
    }  # fmt: skip
    again = await client.post(
        "/v1/conversations", json={**body, "admission": admission}, headers=bearer(alice)
    )
    assert again.status_code == 409
    assert again.json()["code"] == "conversation_exists"
    # Joining keeps the admission that brought bob in.
    await client.post(f"/v1/conversations/{cid}/join", headers=bearer(bob))
    members = (await client.get(f"/v1/conversations/{cid}", headers=bearer(bob))).json()["members"]
    assert {m["user_id"]: m["admission"] for m in members}[bob["user_id"]] == admission
