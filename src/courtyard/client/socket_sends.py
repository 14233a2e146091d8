"""Messages sent on the live sync socket instead of one HTTP request each.

While ``Client.events()`` follows the sync WebSocket, ``send_message`` puts a ``send`` frame on
that socket and waits for the ``sent`` or ``error`` frame with the same ``ref``
(docs/messaging.md, "The sync socket"). Without a live socket, or if the socket drops or the
answer is late, the caller sends over HTTP with the same ``txn_id``: the server lands the
message once whichever way it arrived.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Mapping
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from courtyard.client.errors import ApiError, error_class

ANSWER_FRAMES = frozenset({"sent", "error"})


class SocketSends:
    """The live socket (if any) and the sends waiting on it for their answers."""

    def __init__(self) -> None:
        self._socket: ClientConnection | None = None
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._refs = itertools.count(1)

    @property
    def live(self) -> bool:
        return self._socket is not None

    def attach(self, socket: ClientConnection) -> None:
        self._socket = socket

    def detach(self) -> None:
        """The socket is gone: every waiting send gives up (its caller falls back to HTTP)."""
        self._socket = None
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("the sync socket closed"))

    def settle(self, message: Any) -> bool:
        """Hand an answer frame to its waiting send; False if ``message`` is not an answer."""
        if not isinstance(message, dict) or message.get("type") not in ANSWER_FRAMES:
            return False
        future = self._waiting.pop(str(message.get("ref", "")), None)
        if future is not None and not future.done():
            future.set_result(message)
        return True

    async def send(
        self, conversation_id: str, txn_id: str, envelope: Mapping[str, Any], timeout: float
    ) -> dict[str, Any] | None:
        """The server's ``sent`` answer; None when the socket cannot carry it (use HTTP).

        Raises ``ApiError`` with the server's problem for an ``error`` answer.
        """
        socket = self._socket
        if socket is None:
            return None
        ref = f"m{next(self._refs)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ref] = future
        frame = {"type": "send", "ref": ref, "conversation_id": conversation_id,
                 "txn_id": txn_id, "content": dict(envelope)}  # fmt: skip
        try:
            await socket.send(json.dumps(frame))
            answer = await asyncio.wait_for(future, timeout)
        except (TimeoutError, OSError, ConnectionClosed):  # ConnectionError is an OSError
            return None
        finally:
            self._waiting.pop(ref, None)
        if answer["type"] == "error":
            raise _problem(answer.get("problem"))
        return answer


def _problem(problem: Any) -> ApiError:
    if not isinstance(problem, dict):
        return ApiError(500, "malformed_answer", "The server's answer was malformed")
    status = int(problem.get("status", 500))
    return error_class(status)(
        status, str(problem.get("code", "")), str(problem.get("title", "")),
        problem.get("detail"),
    )  # fmt: skip
