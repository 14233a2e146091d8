"""Rendering for the device app: templates, the context every page shares, and responses."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from courtyard.app.device import DeviceState
from courtyard.client.conversations import Conversation
from courtyard.client.history import Message

HERE = Path(__file__).parent
RECALL_WINDOW = dt.timedelta(minutes=2)
# Sections the layout keeps room for; those without a page yet are shown as "coming soon".
SECTIONS = [
    ("chats", "Chats", "/chats"),
    ("contacts", "Contacts", None),
    ("moments", "Moments", None),
    ("channels", "Channels", None),
    ("wallet", "Wallet", "/wallet"),
    ("miniapps", "Mini-apps", None),
    ("privacy", "Privacy center", "/privacy"),
    ("search", "Search", "/search"),
    ("devices", "Devices", "/devices"),
]
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

templates = Jinja2Templates(directory=HERE / "templates")  # autoescapes by default


def state(request: Request) -> DeviceState:
    device: DeviceState = request.app.state.device
    return device


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a template with the CSRF token and who is signed in."""
    device = state(request)
    messenger = device.messenger
    context.update(
        csrf_token=getattr(request.state, "csrf_token", ""),
        sections=SECTIONS,
        me=messenger.user_id if messenger else None,
        device_id=messenger.device_id if messenger else None,
        display_name=device.display_name,
        username=device.username,
    )
    response: HTMLResponse = templates.TemplateResponse(
        request, name, context, status_code=status_code
    )
    return response


def go(request: Request, url: str) -> Response:
    """Navigate: an ``HX-Redirect`` for htmx requests, else a 303."""
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def problem(request: Request, message: str) -> HTMLResponse:
    """A user-facing error shown in the page's message area (htmx swaps 422s; see base.html)."""
    response = render(request, "_problem.html", status_code=422, message=message)
    response.headers["HX-Retarget"] = "#flash"
    response.headers["HX-Reswap"] = "innerHTML"
    return response


def title(conversation: Conversation, me: str) -> str:
    """A conversation's name, or for a 1:1 (or unnamed group) its other members."""
    if conversation.name:
        return conversation.name
    others = [m.label for m in conversation.members if m.user_id != me]
    return ", ".join(others) or "Just you"


def my_state(conversation: Conversation, me: str) -> str:
    return next((m.state for m in conversation.members if m.user_id == me), "left")


def sent_at(message: Message) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(message.created_at)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def clock_time(message: Message) -> str:
    moment = sent_at(message)
    return moment.astimezone().strftime("%H:%M") if moment else ""


def can_recall(message: Message, me: str) -> bool:
    moment = sent_at(message)
    if message.sender_user_id != me or message.recalled or moment is None:
        return False
    return dt.datetime.now(dt.UTC) - moment < RECALL_WINDOW


def is_inline_image(message: Message) -> bool:
    info = message.attachment or {}
    return message.type == "m.image" and info.get("mime") in INLINE_IMAGE_TYPES


templates.env.globals.update(
    clock_time=clock_time, can_recall=can_recall, is_inline_image=is_inline_image
)
