"""Red packets in chats: send, look at, and grab (docs/wallet.md, "Red packets")."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from courtyard.api.deps import CurrentIdentity, RuntimeDep
from courtyard.api.problems import AUTH_PROBLEMS, COMMON_PROBLEMS
from courtyard.api.routes.wallet import (
    AMOUNT_DOC,
    CURRENCY_DOC,
    FLOW_PROBLEMS,
    PAYMENT_PROBLEMS,
    IdempotencyKey,
    MemoRef,
    answer,
)
from courtyard.domains.wallet.idempotency import check_key
from courtyard.domains.wallet.red_packets import PacketRequest

router = APIRouter(
    prefix="/v1/wallet/red-packets",
    tags=["wallet"],
    responses={**COMMON_PROBLEMS, **AUTH_PROBLEMS},
)


class CreateRedPacket(BaseModel):
    conversation_id: str = Field(max_length=64)
    audience: Literal["person", "group"]
    to_user_id: str | None = Field(default=None, max_length=64)
    split: Literal["fixed", "random"] = "random"
    count: int = Field(ge=1, le=500, description="How many shares.")
    amount: Any = Field(
        description=AMOUNT_DOC + " Per share when `split` is fixed, the total when random.",
        json_schema_extra={"type": "string"},
    )
    currency: Any = Field(description=CURRENCY_DOC, json_schema_extra={"type": "string"})
    pin: str = Field(max_length=64)
    packet_id: str | None = Field(default=None, max_length=64)
    memo: MemoRef | None = None


@router.post("", status_code=201, responses=PAYMENT_PROBLEMS)
async def post_red_packet(
    body: CreateRedPacket,
    identity: CurrentIdentity,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Put money in a chat: for one member (`audience: person`, one share) or for a group to
    grab (random or equal shares). The card shows in the chat; what nobody grabbed comes back
    after 24 hours. Needs your payment PIN and an `Idempotency-Key`."""
    key = check_key(idempotency_key)
    request = PacketRequest(
        conversation_id=body.conversation_id,
        audience=body.audience,
        split=body.split,
        count=body.count,
        amount=runtime.wallet.policy.parse(body.amount, body.currency),
        pin=body.pin,
        to_user_id=body.to_user_id,
        packet_id=body.packet_id,
        memo_conversation_id=body.memo.conversation_id if body.memo else None,
        memo_seq=body.memo.seq if body.memo else None,
    )
    return answer(await runtime.wallet.red_packets.do_create(identity, key, request), 201)


@router.get("/{packet_id}", responses=FLOW_PROBLEMS)
async def get_red_packet(
    packet_id: str, identity: CurrentIdentity, runtime: RuntimeDep
) -> dict[str, Any]:
    """A packet in one of your conversations: who grabbed what, and how many are left. The
    total shows to the sender and to those who grabbed."""
    return await runtime.wallet.red_packets.access_packet(identity, packet_id)


@router.post("/{packet_id}/grab", responses=FLOW_PROBLEMS)
async def grab_red_packet(
    packet_id: str, identity: CurrentIdentity, runtime: RuntimeDep
) -> dict[str, Any]:
    """Open the packet and take the next share; opening it again shows your share
    (`replayed: true`). `red_packet_empty` when you were too slow."""
    return await runtime.wallet.red_packets.do_grab(identity, packet_id)
