"""Assemble the device app: routes, static files, the guard, and a way to serve it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from courtyard.app import (
    views_account,
    views_auth,
    views_bills,
    views_chat,
    views_operations,
    views_payments,
    views_privacy,
    views_privacy_data,
    views_privacy_rights,
    views_wallet,
)
from courtyard.app.consent_watch import ConsentGuard
from courtyard.app.device import DeviceState, Locked
from courtyard.app.pages import HERE, go
from courtyard.app.security import Guard, Sessions
from courtyard.client import ConsentRequired
from courtyard.client.crypto import KdfParams

HOST = "127.0.0.1"  # never anything else: the app holds decrypted messages
SHUTDOWN_GRACE_SECONDS = 1


@dataclass
class DeviceApp:
    """The ASGI app (``asgi``), its device state and its browser sessions."""

    asgi: Guard
    device: DeviceState
    sessions: Sessions

    @property
    def url(self) -> str:
        """The address to open, carrying the launch token once."""
        return self.sessions.launch_url()

    async def aclose(self) -> None:
        await self.device.lock()


def create_device_app(
    profile_dir: Path,
    server: str,
    port: int,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    kdf: KdfParams | None = None,
) -> DeviceApp:
    """The device app for one profile, answering only as ``127.0.0.1:port``/``localhost:port``."""
    device = DeviceState(profile_dir, server, transport=transport, kdf=kdf)

    async def locked(request: Request, exc: Exception) -> Response:
        return go(request, "/welcome")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await device.lock()

    starlette = Starlette(
        routes=[
            *views_auth.routes,
            *views_chat.routes,
            *views_account.routes,
            *views_wallet.routes,
            *views_bills.routes,
            *views_payments.routes,
            *views_operations.routes,
            *views_privacy_data.routes,
            *views_privacy_rights.routes,
            *views_privacy.routes,
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        exception_handlers={Locked: locked, ConsentRequired: views_privacy.consent_required},
        lifespan=lifespan,
    )
    starlette.state.device = device
    sessions = Sessions(port)
    # While the server wants consent, pages lead to /privacy/consent (docs/privacy-consent.md).
    guarded = ConsentGuard(starlette, device.check_consent, device.consent)
    return DeviceApp(Guard(guarded, sessions), device, sessions)


def quiet_sdk_logs() -> None:
    """The SDK's HTTP client logs every request at INFO; a device app needs only warnings."""
    logging.getLogger("httpx").setLevel(logging.WARNING)


def bind(port: int = 0) -> socket.socket:
    """A listening socket on 127.0.0.1 (``port=0``: any free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    return sock


async def serve(asgi: ASGIApp, sock: socket.socket, started: asyncio.Event | None = None) -> None:
    """Serve an ASGI app on ``sock`` until cancelled; several may share one event loop (the
    caller handles Ctrl-C)."""
    config = uvicorn.Config(
        asgi, log_config=None, access_log=False, lifespan="on",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
    )  # fmt: skip
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn has a flag only
            await asyncio.sleep(0.01)
        if started is not None:
            started.set()
        await asyncio.shield(task)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signals alone, so several can share one event loop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
