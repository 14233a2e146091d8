"""A minimal HTTP/1.1 keep-alive client, so the load generator spends little CPU per request.

httpx costs the client far more CPU per request than the server path under test; on a
2-core machine that would measure the client. Only what uvicorn answers is handled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

MAX_HEADER_LINES = 100


class Connection:
    """One keep-alive TCP connection to ``127.0.0.1:port``."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self,
        method: str,
        path: str,
        body: bytes,
        token: str,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        if self._writer is None or self._reader is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"{extra}Content-Length: {len(body)}\r\n\r\n"
        )
        self._writer.write(head.encode() + body)
        return await self._response(self._reader)

    async def fresh_request(
        self,
        method: str,
        path: str,
        body: bytes,
        token: str,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """``request``, reconnecting once if the server closed the idle keep-alive connection."""
        try:
            return await self.request(method, path, body, token, headers)
        except (ConnectionError, asyncio.IncompleteReadError, IndexError):
            self.close()
            return await self.request(method, path, body, token, headers)

    @staticmethod
    async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
        status = int((await reader.readline()).split(b" ", 2)[1])
        length, chunked = 0, False
        for _ in range(MAX_HEADER_LINES):
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if not chunked:
            return status, await reader.readexactly(length)
        body = b""
        while size := int((await reader.readline()).strip(), 16):
            body += await reader.readexactly(size)
            await reader.readline()
        await reader.readline()
        return status, body

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


class Pool:
    """Up to ``size`` connections; a request waits for a free one."""

    def __init__(self, port: int, size: int) -> None:
        self._free: asyncio.Queue[Connection] = asyncio.Queue()
        self._all = [Connection(port) for _ in range(size)]
        for connection in self._all:
            self._free.put_nowait(connection)

    async def request(
        self,
        method: str,
        path: str,
        body: bytes,
        token: str,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        connection = await self._free.get()
        try:
            return await connection.fresh_request(method, path, body, token, headers)
        except BaseException:
            connection.close()
            raise
        finally:
            self._free.put_nowait(connection)

    def close(self) -> None:
        for connection in self._all:
            connection.close()
