"""Pure ASGI middleware (never ``BaseHTTPMiddleware``): body limit, access log and metrics."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from courtyard.api.metrics import Metrics
from courtyard.core.ids import new_id

access_log = logging.getLogger("courtyard.access")


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413 before any handler sees them.

    Paths under a prefix in ``streamed`` (uploads) get that prefix's limit instead, checked
    here only against a declared ``Content-Length``: their bodies pass through unbuffered, and
    the route must count what it streams.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, streamed: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.streamed = dict(streamed or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        streamed_limit = _streamed_limit(self.streamed, scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                limit = self.max_bytes if streamed_limit is None else streamed_limit
                too_big = int(declared) > limit
            except ValueError:
                await _send_problem(send, 400, "bad_request", "Invalid Content-Length header")
                return
            if too_big:
                await _send_problem(send, 413, "payload_too_large", "The request body is too large")
                return
        if streamed_limit is not None:
            await self.app(scope, receive, send)
            return
        # Buffer the body (bounded), so a chunked body that grows too large is refused whole.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _send_problem(send, 413, "payload_too_large", "The request body is too large")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _streamed_limit(streamed: Mapping[str, int], path: str) -> int | None:
    for prefix, limit in streamed.items():
        if path == prefix or path.startswith(prefix + "/"):
            return limit
    return None


async def _send_problem(send: Send, status: int, code: str, title: str) -> None:
    body = json.dumps(
        {
            "type": f"urn:courtyard:problem:{code}",
            "title": title,
            "status": status,
            "code": code,
            "detail": None,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class AccessLogMiddleware:
    """Log one line per request (no query string, no headers, no body) and count it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        request_id = new_id()
        started = time.perf_counter()
        status = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            elif message["type"] == "websocket.accept":
                status = 101
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope.get("method", "WS")
            self.metrics.requests.labels(method, route, str(status or 500)).inc()
            self.metrics.latency.labels(route).observe(elapsed)
            access_log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": method,
                    "route": route,
                    "status": status,
                    "ms": round(elapsed * 1000, 2),
                },
            )


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "<unmatched>"
