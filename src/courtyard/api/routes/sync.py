"""Sync: a device learns every fact in its user's stream, by WebSocket or long-poll."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError

from courtyard.api.deps import AccountsDep, CurrentIdentity, RuntimeDep
from courtyard.api.problems import AUTH_PROBLEMS, COMMON_PROBLEMS
from courtyard.api.runtime import Runtime
from courtyard.api.socket_consent import SocketConsent
from courtyard.api.socket_session import SocketSession, acknowledge, dumps
from courtyard.core.errors import CourtyardError, Unavailable
from courtyard.domains.accounts import Identity
from courtyard.streams import SyncBatch

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["sync"])

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_INTERNAL_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013  # RFC 6455 registry: "Try Again Later"
MAX_TIMEOUT_MS = 60_000


class SyncEvent(BaseModel):
    position: int = Field(description="Position in your stream; acknowledge it to resume there.")
    event_id: str = Field(description="Unique id; a client drops an id it has already seen.")
    type: str = Field(examples=["device.added", "device.removed", "profile.changed"])
    content: dict[str, Any]
    created_at: str


class SyncResponse(BaseModel):
    events: list[SyncEvent]
    next: int = Field(description="Pass as `since` next time.")


@router.get("/sync", response_model=SyncResponse, responses={**COMMON_PROBLEMS, **AUTH_PROBLEMS})
async def sync(
    identity: CurrentIdentity,
    runtime: RuntimeDep,
    since: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    timeout: Annotated[int, Query(ge=0, le=MAX_TIMEOUT_MS, description="Milliseconds.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Events after `since` (default: the position this device last acknowledged).

    With `timeout`, waits that long for new events (long-poll). Asking with `since=N`
    acknowledges everything up to N.
    """
    if since is None:
        since = (await runtime.accounts.access_device(identity, identity.device_id)).acked_position
    else:
        await acknowledge(runtime, identity, since)
    batch = await runtime.sync.wait(identity.user_id, since, timeout / 1000, limit)
    runtime.metrics.sync_events_sent.inc(len(batch.events))
    return await _for_device(runtime, identity, batch)


@router.websocket("/sync/ws")
async def sync_socket(websocket: WebSocket, accounts: AccountsDep, runtime: RuntimeDep) -> None:
    """Push stream events as they happen, and take the device's acks and sends.

    Authenticate with the ``Authorization: Bearer`` header; ``?since=N`` resumes after N,
    otherwise after the device's last acknowledged position. Frames the client may send are
    described in docs/messaging.md ("The sync socket"): ``ack``, ``ping`` and ``send``.
    """
    token = _bearer(websocket)
    # Accept first, so that a refusal reaches the client as a close code it can act on
    # (4401: sign in again; 4400: fix the request), not as an opaque handshake failure.
    await websocket.accept()
    try:
        since = _since(websocket)
    except ValueError:
        await websocket.close(CLOSE_BAD_REQUEST, "since must be a non-negative integer")
        return
    try:
        identity, acked = await accounts.authenticate_device(token or "")
    except CourtyardError:
        await websocket.close(CLOSE_UNAUTHORIZED, "invalid or revoked token")
        return
    except SQLAlchemyError:  # overloaded (e.g. every device reconnecting at once): come back
        log.warning("sync socket refused: database busy", exc_info=True)
        await websocket.close(CLOSE_TRY_AGAIN_LATER, "busy, try again later")
        return
    try:
        consent = await SocketConsent.admit(runtime.consent.gate, websocket, identity.user_id)
    except (SQLAlchemyError, Unavailable):
        log.warning("sync socket refused: consent unknown", exc_info=True)
        await websocket.close(CLOSE_TRY_AGAIN_LATER, "busy, try again later")
        return
    if consent is None:  # refused with 4403 and the problem: consent first
        return
    since = acked if since is None else since
    runtime.metrics.sync_sockets.inc()
    socket = SocketSession(websocket, runtime, identity, consent)
    tasks = [
        asyncio.create_task(_push(websocket, runtime, identity, token or "", since, consent)),
        asyncio.create_task(socket.read_frames()),
    ]
    try:
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        failure = next((t.exception() for t in done if not t.cancelled() and t.exception()), None)
        if failure is not None and not isinstance(failure, WebSocketDisconnect | RuntimeError):
            # The device reconnects and resumes from its acknowledged position: nothing is lost.
            busy = isinstance(failure, SQLAlchemyError)
            log.warning("sync socket ended by %s", type(failure).__name__, exc_info=failure)
            with contextlib.suppress(Exception):
                await websocket.close(
                    CLOSE_TRY_AGAIN_LATER if busy else CLOSE_INTERNAL_ERROR,
                    "busy, try again later" if busy else "server error",
                )
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task
        await socket.finish()
        runtime.metrics.sync_sockets.dec()


async def _push(
    websocket: WebSocket,
    runtime: Runtime,
    identity: Identity,
    token: str,
    since: int,
    consent: SocketConsent,
) -> None:
    """Send every event after ``since`` as it arrives; close once the token is revoked, or
    (4403) once the user must consent to a newer policy or withdrew a required purpose.

    Tokens die only with their device, which puts ``device.removed`` in the user's stream:
    the token is checked when such an event arrives and on every quiet recheck, not per event.
    """
    async with runtime.notifier.listen(identity.user_id) as waiter:
        while True:
            batch = await runtime.sync.next_batch(
                waiter, identity.user_id, since, runtime.settings.sync_recheck_seconds
            )
            if not await consent.still_allowed(websocket, batch.events):
                return
            if batch.events:  # a removed device still learns that it was removed
                wire = await _for_device(runtime, identity, batch)
                await websocket.send_text(dumps({"type": "events", **wire}))
                runtime.metrics.sync_events_sent.inc(len(batch.events))
                since = batch.next
            if (not batch.events or _may_revoke(batch, identity)) and not (
                await runtime.accounts.is_token_live(identity, token)
            ):
                await websocket.close(CLOSE_UNAUTHORIZED, "token revoked")
                return


def _may_revoke(batch: SyncBatch, identity: Identity) -> bool:
    return any(
        e["type"] == "device.removed" and e["content"].get("device_id") == identity.device_id
        for e in batch.events
    )


async def _for_device(runtime: Runtime, identity: Identity, batch: SyncBatch) -> dict[str, Any]:
    """The batch as this device sees it: its own to-device messages filled in."""
    wire = batch.to_wire()
    wire["events"] = await runtime.to_device.attach_messages(identity, wire["events"])
    return wire


def _bearer(websocket: WebSocket) -> str | None:
    header = websocket.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value else None


def _since(websocket: WebSocket) -> int | None:
    raw = websocket.query_params.get("since")
    if raw is None:
        return None
    value = int(raw)
    if value < 0:
        raise ValueError("since must be >= 0")
    return value
