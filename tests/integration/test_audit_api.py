"""The audit log's public API, without a token: the latest signed head and the key that
signs it, consistency proofs a client can check, and every head a page at a time."""

from __future__ import annotations

import base64

import httpx
from fastapi import FastAPI

from courtyard.domains.audit import (
    SignedHead,
    append_audit_entry,
    public_key_from_raw,
    verify_head,
)
from courtyard.domains.audit.merkle import verify_consistency
from tests.integration.audit_support import USERS

PROBLEM = "application/problem+json"


async def grow_and_sign(app: FastAPI, count: int) -> SignedHead:
    runtime = app.state.runtime
    for i in range(count):
        async with runtime.db.transaction() as tx:
            await append_audit_entry(
                tx, runtime.clock, actor="operator:op-1", action="wallet.user.view",
                target=f"user:{USERS[i % 2]}", subject_user_id=USERS[i % 2],
            )  # fmt: skip
    runtime.clock.advance(minutes=1)
    head: SignedHead | None = await runtime.audit.sign_tree_head()
    assert head is not None
    return head


async def test_before_the_first_signature_there_is_no_head(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v1/audit/tree-head")

    assert answer.status_code == 404
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["code"] == "no_tree_head"
    assert (await client.get("/v1/audit/tree-heads")).json() == {"heads": [], "next_after": None}


async def test_the_latest_head_verifies_with_the_published_key(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    signed = await grow_and_sign(app, 3)

    head = (await client.get("/v1/audit/tree-head")).json()
    [key] = (await client.get("/v1/audit/keys")).json()["keys"]

    assert head == signed.as_json()
    assert head["root_hash"] == signed.root_hash.hex()
    assert (key["algorithm"], key["key_id"]) == ("ed25519", head["key_id"])
    public = public_key_from_raw(base64.b64decode(key["public_key"]))
    assert verify_head(SignedHead.from_json(head), {key["key_id"]: public}) is True
    altered = SignedHead.from_json({**head, "tree_size": head["tree_size"] + 1})
    assert verify_head(altered, {key["key_id"]: public}) is False


async def test_consistency_proofs_between_published_heads_verify(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    older = await grow_and_sign(app, 3)
    newer = await grow_and_sign(app, 6)

    answer = await client.get(
        "/v1/audit/consistency", params={"first": older.tree_size, "second": newer.tree_size}
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["first"], body["second"]) == (older.tree_size, newer.tree_size)
    proof = [bytes.fromhex(h) for h in body["proof"]]
    assert verify_consistency(
        older.tree_size, newer.tree_size, older.root_hash, newer.root_hash, proof
    )
    assert not verify_consistency(
        older.tree_size, newer.tree_size, newer.root_hash, older.root_hash, proof
    )


async def test_consistency_refuses_sizes_outside_the_signed_log(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    head = await grow_and_sign(app, 2)
    size = head.tree_size

    for first, second in ((2, 1), (1, size + 1)):
        refused = await client.get(
            "/v1/audit/consistency", params={"first": first, "second": second}
        )
        assert refused.status_code == 400, (first, second)
        assert refused.json()["code"] == "invalid_tree_size"
    for params in ({"first": 0, "second": 1}, {"first": 1, "second": 2**63}, {"first": "x"}):
        invalid = await client.get("/v1/audit/consistency", params=params)
        assert invalid.status_code == 422
        assert invalid.headers["content-type"] == PROBLEM


async def test_every_head_is_listed_oldest_first_a_page_at_a_time(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    sizes = [(await grow_and_sign(app, 1)).tree_size for _ in range(5)]

    first = (await client.get("/v1/audit/tree-heads", params={"limit": 2})).json()
    rest = (await client.get("/v1/audit/tree-heads", params={"after": first["next_after"]})).json()

    assert [h["tree_size"] for h in first["heads"]] == sizes[:2]
    assert first["next_after"] == sizes[1]
    assert [h["tree_size"] for h in rest["heads"]] == sizes[2:]
    assert rest["next_after"] is None


def test_the_audit_routes_are_public_and_documented(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    for path in ("/v1/audit/tree-head", "/v1/audit/keys", "/v1/audit/consistency",
                 "/v1/audit/tree-heads"):  # fmt: skip
        operation = paths[path]["get"]
        assert operation["tags"] == ["audit"]
        assert "security" not in operation
    assert not [p for p in paths if p.startswith("/v1/audit/") and "entr" in p]
