"""``BodyLimitMiddleware``: buffered by default, but streamed paths reach the app unbuffered
(so a 25 MiB upload never sits in memory) and keep only their own declared-length check."""

from __future__ import annotations

import json

from starlette.types import Message, Receive, Scope, Send

from courtyard.api.middleware import BodyLimitMiddleware

CHUNKS = [b"a" * 600, b"b" * 600, b"c" * 600]  # 1800 bytes: over the 1024-byte buffered limit


def http_scope(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> Scope:
    return {"type": "http", "method": "POST", "path": path, "headers": headers or []}


class Peer:
    """The client side: hands out body chunks on demand and records what was sent back."""

    def __init__(self) -> None:
        self.handed_out = 0
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        chunk = CHUNKS[self.handed_out]
        self.handed_out += 1
        return {"type": "http.request", "body": chunk, "more_body": self.handed_out < len(CHUNKS)}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])


class ReadsOneChunk:
    """An app that reads one body message, noting how much the peer had handed out by then."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.first: Message | None = None
        self.handed_out_at_first = -1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.first = await receive()
        self.handed_out_at_first = self.peer.handed_out
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def test_a_streamed_path_reaches_the_app_chunk_by_chunk() -> None:
    peer = Peer()
    app = ReadsOneChunk(peer)
    middleware = BodyLimitMiddleware(app, max_bytes=1024, streamed={"/v1/media": 10_000})

    await middleware(http_scope("/v1/media"), peer.receive, peer.send)

    assert peer.status == 204
    assert app.first is not None
    assert app.first["body"] == CHUNKS[0]
    assert app.first["more_body"] is True
    assert app.handed_out_at_first == 1  # nothing was read ahead and buffered


async def test_other_paths_are_buffered_and_limited() -> None:
    peer = Peer()
    app = ReadsOneChunk(peer)
    middleware = BodyLimitMiddleware(app, max_bytes=1024, streamed={"/v1/media": 10_000})

    await middleware(http_scope("/v1/mediaX"), peer.receive, peer.send)

    assert peer.status == 413
    assert app.first is None


async def test_a_streamed_path_refuses_a_declared_length_over_its_own_limit() -> None:
    peer = Peer()
    app = ReadsOneChunk(peer)
    middleware = BodyLimitMiddleware(app, max_bytes=1024, streamed={"/v1/media": 10_000})
    headers = [(b"content-length", b"10001")]

    await middleware(http_scope("/v1/media", headers), peer.receive, peer.send)

    assert peer.status == 413
    assert json.loads(peer.sent[1]["body"])["code"] == "payload_too_large"
    assert app.first is None
    assert peer.handed_out == 0
