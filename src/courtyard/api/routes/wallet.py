"""The wallet: balances, payment PIN, P2P transfers and statements (docs/wallet.md)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from courtyard.api.deps import CurrentIdentity, RuntimeDep
from courtyard.api.problems import AUTH_PROBLEMS, COMMON_PROBLEMS, problem_doc
from courtyard.api.runtime import Runtime
from courtyard.core.currencies import exponent
from courtyard.core.errors import InvalidInput
from courtyard.core.ids import is_id
from courtyard.domains.accounts import Identity
from courtyard.domains.wallet import TransferRequest
from courtyard.domains.wallet.idempotency import Answer, check_key
from courtyard.domains.wallet.statements import StatementQuery, to_csv

router = APIRouter(
    prefix="/v1/wallet", tags=["wallet"], responses={**COMMON_PROBLEMS, **AUTH_PROBLEMS}
)
AMOUNT_DOC = 'A decimal string in major units, e.g. "10.50" (never a JSON number).'
CURRENCY_DOC = "An ISO 4217 code enabled on this server, upper case, e.g. CNY."
# What a payment can be refused with, besides bad input (docs/wallet.md, "API").
PAYMENT_PROBLEMS: dict[int | str, dict[str, Any]] = {
    403: problem_doc("pin_not_set, wrong_pin (attempts_left), daily_limit_exceeded, not_eligible."),
    404: problem_doc("recipient_not_found, or a conversation you are not in."),
    409: problem_doc(
        "insufficient_funds, account_frozen, idempotency_key_reused, no_direct_conversation, "
        "transfer_exists, red_packet_exists."
    ),
    429: problem_doc("pin_locked: too many wrong PINs (Retry-After, locked_until)."),
}
FLOW_PROBLEMS: dict[int | str, dict[str, Any]] = {
    403: problem_doc("not_transfer_recipient / not_eligible."),
    404: problem_doc("No such flow, or not one you are a party to (ids reveal nothing)."),
    409: problem_doc("The flow's state does not allow it (with its `state`), or it expired."),
}
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="1-64 characters of A-Z a-z 0-9 . _ : -; a retry with the same key and "
        "body gets the first answer, a different body 409 idempotency_key_reused.",
    ),
]


class MemoRef(BaseModel):
    conversation_id: str = Field(max_length=36)
    seq: int = Field(ge=1)


class SetPin(BaseModel):
    pin: str = Field(max_length=64, description="Exactly 6 digits.")
    password: str | None = Field(default=None, max_length=1024)
    current_pin: str | None = Field(default=None, max_length=64)


class CreateTransfer(BaseModel):
    to_user_id: str = Field(max_length=64)
    # Any JSON, so that Money.parse (not the request model) judges it: a malformed amount
    # always answers invalid_amount.
    amount: Any = Field(description=AMOUNT_DOC, json_schema_extra={"type": "string"})
    currency: Any = Field(description=CURRENCY_DOC, json_schema_extra={"type": "string"})
    pin: str = Field(max_length=64)
    transfer_id: str | None = Field(default=None, max_length=64)
    memo: MemoRef | None = None


def answer(result: Answer, status: int) -> JSONResponse:
    """A money-moving answer; a replay repeats the first status and body."""
    body = {**result.body, "replayed": result.replayed}
    headers = {"Idempotent-Replayed": "true"} if result.replayed else {}
    return JSONResponse(body, status_code=status, headers=headers)


@router.get("")
async def get_wallet(identity: CurrentIdentity, runtime: RuntimeDep) -> dict[str, Any]:
    """Your balance in each enabled currency, whether a payment PIN is set (and locked), and
    today's limits. Amounts are Money objects: compute with `amount_minor`, show `amount`."""
    return await runtime.wallet.overview(identity)


@router.get("/currencies")
async def get_currencies(runtime: RuntimeDep) -> list[dict[str, Any]]:
    """The currencies this server accepts, with their minor-unit exponent."""
    return [{"code": c, "exponent": exponent(c)} for c in runtime.wallet.policy.currencies]


@router.put(
    "/pin",
    status_code=204,
    responses={
        403: problem_doc("wrong_password or wrong_pin."),
        429: problem_doc("Too many wrong passwords or PINs."),
    },
)
async def put_pin(body: SetPin, identity: CurrentIdentity, runtime: RuntimeDep) -> Response:
    """Set the payment PIN with your account password, or change it with the current PIN.
    Setting it with the password also lifts a lock after too many wrong PINs."""
    await runtime.wallet.do_set_pin(
        identity, body.pin, password=body.password, current_pin=body.current_pin
    )
    return Response(status_code=204)


@router.post("/transfers", status_code=201, responses=PAYMENT_PROBLEMS)
async def post_transfer(
    body: CreateTransfer,
    identity: CurrentIdentity,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Send money to someone you have a direct conversation with. It leaves your balance at
    once, shows as a card in your chat, and waits for them to accept or return it; after 24
    hours it comes back to you. Needs your payment PIN and an `Idempotency-Key`."""
    result = await create_transfer(runtime, identity, idempotency_key, body)
    return answer(result, 201)


async def create_transfer(
    runtime: Runtime, identity: Identity, idempotency_key: str | None, body: CreateTransfer
) -> Answer:
    """The one service call behind ``POST /v1/wallet/transfers`` and the sync socket's
    ``wallet.transfer`` frame: same checks, same codes, same idempotency."""
    key = check_key(idempotency_key)
    amount = runtime.wallet.policy.parse(body.amount, body.currency)
    request = TransferRequest(
        to_user_id=body.to_user_id,
        amount=amount,
        pin=body.pin,
        transfer_id=body.transfer_id,
        memo_conversation_id=body.memo.conversation_id if body.memo else None,
        memo_seq=body.memo.seq if body.memo else None,
    )
    return await runtime.wallet.transfers.do_create(identity, key, request)


@router.get("/transfers")
async def list_transfers(
    identity: CurrentIdentity,
    runtime: RuntimeDep,
    role: Literal["sent", "received"] | None = None,
    state: Literal["pending", "accepted", "returned", "refunded"] | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Transfers you sent or received, newest first."""
    role_name = {"sent": "sender", "received": "recipient"}.get(role or "")
    rows = await runtime.wallet.transfers.list_transfers(identity, role_name, state, limit)
    return {"transfers": rows}


@router.get("/transfers/{transfer_id}", responses=FLOW_PROBLEMS)
async def get_transfer(
    transfer_id: str, identity: CurrentIdentity, runtime: RuntimeDep
) -> dict[str, Any]:
    """One transfer you are a party to (others get 404 transfer_not_found)."""
    return await runtime.wallet.transfers.access_transfer(identity, transfer_id)


@router.post("/transfers/{transfer_id}/accept", responses=FLOW_PROBLEMS)
async def accept_transfer(
    transfer_id: str, identity: CurrentIdentity, runtime: RuntimeDep
) -> JSONResponse:
    """Accept a transfer sent to you: the money moves to your balance. Accepting twice is
    answered with the accepted transfer (`replayed: true`)."""
    return answer(await runtime.wallet.transfers.do_accept(identity, transfer_id), 200)


@router.post("/transfers/{transfer_id}/return", responses=FLOW_PROBLEMS)
async def return_transfer(
    transfer_id: str, identity: CurrentIdentity, runtime: RuntimeDep
) -> JSONResponse:
    """Send a pending transfer back to its sender."""
    return answer(await runtime.wallet.transfers.do_return(identity, transfer_id), 200)


@router.get("/statement", response_model=None)
async def get_statement(
    identity: CurrentIdentity,
    runtime: RuntimeDep,
    currency: Annotated[str, Query(max_length=8)],
    start: Annotated[dt.datetime | None, Query(alias="from")] = None,
    end: Annotated[dt.datetime | None, Query(alias="to")] = None,
    cursor: Annotated[str | None, Query(max_length=120)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    format: Literal["json", "csv"] = "json",
) -> dict[str, Any] | PlainTextResponse:
    """Your account's movements in `currency`, newest first: one line per posting with its
    counterparty and the balance after it. `format=csv` returns the whole range as CSV.
    The range is at most 366 days (default: the last 30)."""
    runtime.wallet.policy.parse("1", currency)  # unsupported_currency, like every endpoint
    now = runtime.clock.now()
    end = aware(end) if end else now + dt.timedelta(seconds=1)  # `to` is exclusive
    start = aware(start) if start else end - dt.timedelta(days=30)
    query = StatementQuery(currency, start, end, page_cursor(cursor), limit)
    if format == "csv":
        lines = await runtime.wallet.statements.lines(
            identity.user_id, StatementQuery(currency, start, end, None, 100_000)
        )
        return PlainTextResponse(to_csv(lines), media_type="text/csv; charset=utf-8")
    lines = await runtime.wallet.statements.lines(identity.user_id, query)
    last = lines[-1] if len(lines) == limit else None
    return {
        "currency": currency,
        "lines": lines,
        "next_cursor": f"{last['posted_at']}|{last['entry_id']}" if last else None,
    }


def aware(moment: dt.datetime) -> dt.datetime:
    """A query's time as UTC (a time without an offset is taken as UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def page_cursor(text: str | None) -> tuple[dt.datetime, str] | None:
    """A page cursor ``<ISO time>|<id>`` as this server hands them out (statements, a
    merchant's payments); anything else is 400 ``invalid_input``."""
    if text is None:
        return None
    try:
        posted, entry_id = text.split("|", 1)
        if not is_id(entry_id):  # e.g. a NUL byte, which PostgreSQL refuses in text
            raise ValueError(entry_id)
        return aware(dt.datetime.fromisoformat(posted)), entry_id
    except ValueError:
        raise InvalidInput("cursor is not one this server made") from None
