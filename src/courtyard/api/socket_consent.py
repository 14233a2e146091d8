"""The consent gate on a sync socket: judged at connect, then from what the socket holds —
before each batch it pushes, each frame it takes, and again after a ``privacy.consent`` event
in the user's stream (docs/privacy-consent.md, "The consent gate")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import WebSocket

from courtyard.api.socket_session import error_frame
from courtyard.domains.privacy import (
    CONSENT_EVENT,
    ConsentGate,
    ConsentRequired,
    HeldConsent,
    Scope,
)

CLOSE_CONSENT_REQUIRED = 4403  # the client asks what to consent to over HTTP


class SocketConsent:
    """One socket's view of its user's consent; no query per frame or batch."""

    def __init__(self, gate: ConsentGate, user_id: str, held: HeldConsent) -> None:
        self.gate = gate
        self.user_id = user_id
        self.held = held

    @classmethod
    async def admit(
        cls, gate: ConsentGate, websocket: WebSocket, user_id: str
    ) -> SocketConsent | None:
        """The socket's consent if the user may sync now; else tell them why, close, None."""
        try:
            held = await gate.check(user_id)
        except ConsentRequired as exc:
            await refuse(websocket, exc)
            return None
        return cls(gate, user_id, held)

    async def judge(self, scope: Scope = "all") -> None:
        """Raise ``ConsentRequired`` unless what the socket holds is enough for ``scope``."""
        await self.gate.judge(self.held, scope)

    async def still_allowed(self, websocket: WebSocket, events: Iterable[dict[str, Any]]) -> bool:
        """Re-judge (re-reading the user's consent if ``events`` changed it); on refusal send
        the problem, close with 4403 and answer False."""
        if any(event["type"] == CONSENT_EVENT for event in events):
            self.held = await self.gate.load(self.user_id)
        try:
            await self.judge()
        except ConsentRequired as exc:
            await refuse(websocket, exc)
            return False
        return True


async def refuse(websocket: WebSocket, exc: ConsentRequired) -> None:
    """An ``error`` frame with the problem, then close code 4403."""
    await websocket.send_text(error_frame("", exc))
    await websocket.close(CLOSE_CONSENT_REQUIRED, exc.code)
