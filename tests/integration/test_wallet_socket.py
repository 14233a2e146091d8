"""Transfers sent as ``wallet.transfer`` frames on the sync socket: the same service call,
checks, codes and idempotency as ``POST /v1/wallet/transfers`` (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets
from fastapi import FastAPI

from courtyard.domains.wallet import audit_ledger
from tests.integration.wallet_support import PIN, Member, balance, direct, fund, member


async def _recv_until(ws: websockets.ClientConnection, kind: str) -> dict[str, Any]:
    """The next frame of type ``kind`` (frames of other types before it are skipped)."""
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame["type"] == kind:
            return frame


def _frame(to: Member, amount: str, ref: str, key: str | None = "k1", **extra: Any) -> str:
    body = {"type": "wallet.transfer", "ref": ref, "to_user_id": to.user_id, "amount": amount,
            "currency": "CNY", "pin": PIN, **extra}  # fmt: skip
    if key is not None:
        body["idempotency_key"] = key
    return json.dumps(body)


async def _cards(ws: websockets.ClientConnection, transfer_id: str) -> dict[str, Any]:
    """The card of ``transfer_id`` as it is pushed to a party's socket."""
    while True:
        for event in (await _recv_until(ws, "events"))["events"]:
            content = event["content"]
            if event["type"] != "conversation.event" or content["type"] != "m.wallet.transfer":
                continue
            if content["content"]["transfer_id"] == transfer_id:
                return dict(content["content"])


async def test_a_transfer_frame_is_answered_after_commit_and_a_retry_is_a_replay(
    app: FastAPI, live_server: str
) -> None:
    ws_url = live_server.replace("http", "ws") + "/v1/sync/ws"
    async with httpx.AsyncClient(base_url=live_server) as http:
        alice, bob = await member(http, "alice"), await member(http, "bob")
        await direct(http, alice, bob)
        await fund(app, alice.user_id, 100_00)
        async with (
            websockets.connect(ws_url, additional_headers=alice.headers) as sender,
            websockets.connect(ws_url, additional_headers=bob.headers) as receiver,
        ):
            await sender.send(_frame(bob, "12.50", "r1"))
            result = await _recv_until(sender, "wallet.result")
            assert (result["ref"], result["status"]) == ("r1", 201)
            body = result["body"]
            assert (body["state"], body["amount"]["amount_minor"]) == ("pending", 1250)
            assert body["replayed"] is False
            card = await _cards(receiver, body["transfer_id"])
            assert card == {k: v for k, v in body.items() if k != "replayed"}
            await sender.send(_frame(bob, "12.50", "r2"))  # a retry after a lost answer
            again = await _recv_until(sender, "wallet.result")
            assert again == {**result, "ref": "r2", "body": {**body, "replayed": True}}
        over_http = await http.post(
            "/v1/wallet/transfers",
            json={"to_user_id": bob.user_id, "amount": "12.50", "currency": "CNY", "pin": PIN},
            headers={**alice.headers, "Idempotency-Key": "k1"},
        )
        assert over_http.status_code == 201
        assert over_http.json() == {**body, "replayed": True}
        assert await balance(http, alice) == 100_00 - 1250
    report = await audit_ledger(app.state.runtime.db)
    assert report.ok, report.findings


async def test_refused_transfer_frames_carry_the_http_problem(
    app: FastAPI, live_server: str
) -> None:
    ws_url = live_server.replace("http", "ws") + "/v1/sync/ws"
    async with httpx.AsyncClient(base_url=live_server) as http:
        alice, bob = await member(http, "alice"), await member(http, "bob")
        await direct(http, alice, bob)
        await fund(app, alice.user_id, 10_00)
        async with websockets.connect(ws_url, additional_headers=alice.headers) as ws:

            async def problem(frame: str) -> dict[str, Any]:
                await ws.send(frame)
                answer = await _recv_until(ws, "error")
                return dict(answer["problem"]) | {"ref": answer["ref"]}

            no_key = await problem(_frame(bob, "1.00", "a", key=None))
            assert (no_key["ref"], no_key["code"], no_key["status"]) == (
                "a", "idempotency_key_required", 400,
            )  # fmt: skip
            assert (await problem(_frame(bob, "1.234", "b", "kb")))["code"] == "invalid_amount"
            assert (await problem(_frame(alice, "1.00", "c", "kc")))["code"] == "self_transfer"
            wrong = await problem(_frame(bob, "1.00", "d", "kd", pin="135790"))
            assert (wrong["code"], wrong["status"], wrong["attempts_left"]) == ("wrong_pin", 403, 4)
            shapeless = await problem(json.dumps({"type": "wallet.transfer", "ref": "e"}))
            assert (shapeless["code"], shapeless["status"]) == ("invalid_request", 422)
            short = await problem(_frame(bob, "20.00", "f", "kf"))
            await ws.send(json.dumps({"type": "ping"}))
            assert (await _recv_until(ws, "pong")) == {"type": "pong"}  # the socket stays open
        same_over_http = await http.post(
            "/v1/wallet/transfers",
            json={"to_user_id": bob.user_id, "amount": "20.00", "currency": "CNY", "pin": PIN},
            headers={**alice.headers, "Idempotency-Key": "kg"},
        )
    assert same_over_http.status_code == 409
    assert {**short, "ref": None} == {**same_over_http.json(), "ref": None}
    assert short["code"] == "insufficient_funds"
    assert short["balance"]["amount"] == "10.00"
