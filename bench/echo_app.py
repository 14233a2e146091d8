"""The stack's own ceiling: a bare ASGI app on uvicorn with Courtyard's uvicorn settings.

``/ws/{n}`` is a WebSocket that echoes every text frame and registers itself as socket
``n``; ``POST /relay/{n}`` pushes the request body to socket ``n`` and answers ``{}`` — the
same shape as a Courtyard send (HTTP in, WebSocket out) with no database and no JSON work.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_sockets: dict[str, Send] = {}


async def _websocket(scope: Scope, receive: Receive, send: Send) -> None:
    name = scope["path"].rsplit("/", 1)[-1]
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
            _sockets[name] = send
        elif message["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message.get("text")})
        else:
            _sockets.pop(name, None)
            return


async def _relay(scope: Scope, receive: Receive, send: Send) -> None:
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    target = _sockets.get(scope["path"].rsplit("/", 1)[-1])
    status = 404
    if target is not None:
        await target({"type": "websocket.send", "text": body.decode()})
        status = 200
    headers = [(b"content-type", b"application/json"), (b"content-length", b"2")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Route ``/ws/*`` and ``/relay/*``; anything else answers 200 (the readiness check)."""
    if scope["type"] == "websocket":
        await _websocket(scope, receive, send)
    elif scope["type"] == "http" and scope["path"].startswith("/relay/"):
        await _relay(scope, receive, send)
    elif scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # The same uvicorn.run arguments as `courtyard serve` (courtyard.cli.server.run_server).
    uvicorn.run(
        app, host="127.0.0.1", port=args.port, log_config=None, access_log=False,
        ws_max_size=1_048_576, lifespan="off", timeout_graceful_shutdown=5,
    )  # fmt: skip


if __name__ == "__main__":
    main()
