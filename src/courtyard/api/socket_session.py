"""What a device sends on its sync socket: acks, pings, messages and transfers
(docs/messaging.md, docs/wallet.md).

``send`` frames go through the same service call as ``POST /v1/conversations/{id}/messages``
(same checks, same idempotency by ``txn_id``, same problem codes) without an HTTP request
per message; each is answered with a ``sent`` or ``error`` frame carrying the client's
``ref``. ``wallet.transfer`` frames carry what ``POST /v1/wallet/transfers`` carries (its
body, and its ``Idempotency-Key`` as ``idempotency_key``) and go through the same service
call; the answer is a ``wallet.result`` frame with the HTTP answer's status and body, or an
``error`` frame with the same problem object. Acks are coalesced: while one is being
stored, later ones wait and only the newest is stored next, so a device acking every batch
costs at most one write at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol

import orjson
from fastapi import WebSocket
from pydantic import Field, ValidationError

from courtyard.api.problems import PROBLEM_TYPE, status_for
from courtyard.api.routes.wallet import CreateTransfer, create_transfer
from courtyard.api.runtime import Runtime
from courtyard.core.errors import CourtyardError, TooManyRequests
from courtyard.core.wire import WireId, first_problem
from courtyard.domains.accounts import Identity
from courtyard.domains.messaging import SendMessage
from courtyard.domains.privacy import Scope

log = logging.getLogger(__name__)

MAX_SENDS_IN_FLIGHT = 64  # per socket (messages and transfers); more frames wait for a slot


class SendFrame(SendMessage):
    """``{"type": "send", "ref": …, "conversation_id": …, "txn_id": …, "content": {…}}``"""

    type: Literal["send"]
    ref: str = Field(default="", max_length=64)
    conversation_id: WireId


class TransferFrame(CreateTransfer):
    """``{"type": "wallet.transfer", "ref": …, "idempotency_key": …, …the POST body}``"""

    type: Literal["wallet.transfer"]
    ref: str = Field(default="", max_length=64)
    # Judged by the same check as the HTTP header (idempotency_key_required / invalid_…).
    idempotency_key: str | None = None


Handler = Callable[[dict[str, Any]], Awaitable[str]]


class Consent(Protocol):
    """The socket's consent (api/socket_consent.py): raises ``ConsentRequired`` if refused."""

    async def judge(self, scope: Scope = "all") -> None: ...


def _ref(frame: dict[str, Any]) -> str:
    """The client's reference for a frame, echoed in the answer (cut to 64 characters)."""
    ref = frame.get("ref")
    return ref[:64] if isinstance(ref, str) else ""


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def problem_frame(ref: str, status: int, code: str, title: str, detail: str | None) -> str:
    problem = {"type": PROBLEM_TYPE + code, "title": title, "status": status, "code": code}
    if detail:
        problem["detail"] = detail
    return dumps({"type": "error", "ref": ref, "problem": problem})


def error_frame(ref: str, exc: CourtyardError) -> str:
    """An ``error`` frame with the problem object the HTTP API answers for ``exc``, its
    extension members included (``retry_after`` stands in for the header)."""
    problem: dict[str, Any] = {
        "type": PROBLEM_TYPE + exc.code, "title": exc.title, "status": status_for(exc),
        "code": exc.code, "detail": exc.detail,
    }  # fmt: skip
    if isinstance(exc, TooManyRequests):
        problem["retry_after"] = exc.retry_after
    problem.update({k: v for k, v in exc.extra.items() if k not in problem})
    return dumps({"type": "error", "ref": ref, "problem": problem})


async def acknowledge(runtime: Runtime, identity: Identity, position: int) -> None:
    """The device has everything up to ``position``: remember it, drop delivered messages."""
    await runtime.accounts.do_ack_position(identity, position)
    await runtime.to_device.do_acknowledge(identity, position)


class SocketSession:
    """Reads one socket's client frames; owns its in-flight sends and pending ack."""

    def __init__(
        self, websocket: WebSocket, runtime: Runtime, identity: Identity, consent: Consent
    ) -> None:
        self.websocket = websocket
        self.runtime = runtime
        self.identity = identity
        self.consent = consent  # judged before each send and transfer (no query)
        self._slots = asyncio.Semaphore(MAX_SENDS_IN_FLIGHT)
        self._sends: set[asyncio.Task[None]] = set()
        self._ack_wanted = -1
        self._ack_writer: asyncio.Task[None] | None = None

    async def read_frames(self) -> None:
        """Until the socket closes: store acks, answer pings, carry out sends."""
        while True:
            raw = await self.websocket.receive_text()
            try:
                frame = orjson.loads(raw)
            except orjson.JSONDecodeError:
                await self.websocket.send_text(
                    problem_frame("", 400, "malformed_json", "The frame is not valid JSON", None)
                )
                continue
            if not isinstance(frame, dict):
                continue
            kind = frame.get("type")
            if kind == "ack" and type(frame.get("position")) is int:
                self._want_ack(frame["position"])
            elif kind == "ping":
                await self.websocket.send_text(dumps({"type": "pong"}))
            elif kind == "send":
                await self._start(self._sent_frame, frame)
            elif kind == "wallet.transfer":
                await self._start(self._transfer_frame, frame)

    async def finish(self) -> None:
        """After the socket closed: let in-flight sends end and store the last ack."""
        pending = [*self._sends, *([self._ack_writer] if self._ack_writer else [])]
        if pending:
            await asyncio.wait(pending, timeout=30)

    async def _start(self, handler: Handler, frame: dict[str, Any]) -> None:
        """Carry out ``frame`` in a task of its own once a slot is free."""
        await self._slots.acquire()
        task = asyncio.create_task(self._answer(handler, frame))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _answer(self, handler: Handler, frame: dict[str, Any]) -> None:
        ref = _ref(frame)
        try:
            reply = await handler(frame)
        except CourtyardError as exc:
            reply = error_frame(ref, exc)
        except Exception:
            log.exception("socket %s failed", frame.get("type"))
            reply = problem_frame(ref, 500, "internal_error", "Something went wrong", None)
        finally:
            self._slots.release()
        with contextlib.suppress(Exception):  # the socket may have closed meanwhile
            await self.websocket.send_text(reply)

    async def _sent_frame(self, frame: dict[str, Any]) -> str:
        try:
            send = SendFrame.model_validate(frame)
        except ValidationError as exc:
            detail = f"invalid send frame ({first_problem(exc)})"
            return problem_frame(
                _ref(frame), 422, "invalid_request", "The frame does not match the schema", detail
            )
        await self.consent.judge("all")
        sent = await self.runtime.messages.do_send(
            self.identity, send.conversation_id, send.txn_id, send.content
        )
        return dumps({"type": "sent", "ref": send.ref, "conversation_id": send.conversation_id,
                      "txn_id": send.txn_id, **sent.model_dump()})  # fmt: skip

    async def _transfer_frame(self, frame: dict[str, Any]) -> str:
        try:
            body = TransferFrame.model_validate(frame)
        except ValidationError as exc:
            detail = f"invalid wallet.transfer frame ({first_problem(exc)})"
            return problem_frame(
                _ref(frame), 422, "invalid_request", "The frame does not match the schema", detail
            )
        await self.consent.judge("wallet")
        result = await create_transfer(self.runtime, self.identity, body.idempotency_key, body)
        return dumps({"type": "wallet.result", "ref": body.ref, "status": 201,
                      "body": {**result.body, "replayed": result.replayed}})  # fmt: skip

    def _want_ack(self, position: int) -> None:
        if position <= self._ack_wanted:
            return
        self._ack_wanted = position
        if self._ack_writer is None or self._ack_writer.done():
            self._ack_writer = asyncio.create_task(self._store_acks())

    async def _store_acks(self) -> None:
        stored = -1
        while stored < self._ack_wanted:
            stored = self._ack_wanted
            try:
                await acknowledge(self.runtime, self.identity, stored)
            except CourtyardError as exc:
                log.info("ack not stored: %s", exc.code)
