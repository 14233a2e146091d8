"""Sign up, sign in, unlock and sign out; and the live-update stream pages listen to."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from courtyard.app.consent_watch import consent_url
from courtyard.app.pages import go, problem, render, state
from courtyard.client import ApiError, ClientError, ConsentRequired
from courtyard.client.crypto import WrongPassphrase


async def home(request: Request) -> Response:
    return go(request, "/chats" if state(request).unlocked else "/welcome")


async def welcome(request: Request) -> Response:
    """Sign up or sign in; or, when the profile holds a session, unlock its crypto store."""
    device = state(request)
    if device.unlocked:
        return go(request, "/chats")
    stored = device.stored()
    return render(request, "welcome.html", stored=stored, server=device.server)


async def sign_up(request: Request) -> Response:
    form = await request.form()
    fields = {k: str(form.get(k, "")).strip() for k in ("username", "display_name", "region")}
    password, passphrase = str(form.get("password", "")), str(form.get("passphrase", ""))
    if not all(fields.values()) or not password or not passphrase:
        return problem(request, "Please fill in every field.")
    version_hash = str(form.get("policy_version_hash", ""))
    if not version_hash:
        return problem(request, "Enter your region to see its privacy policy first.")
    if str(form.get("accept_policy", "")) != "on":
        return problem(request, "Please read the privacy policy and tick “I accept”.")
    # The purposes the form showed; the server refuses if a required one is not ticked.
    purposes = {str(name): True for name in form.getlist("purpose")}
    try:
        await state(request).sign_up(
            fields["username"], password, fields["display_name"],
            fields["region"].upper(), passphrase,
            policy_version_hash=version_hash, purposes=purposes,
        )  # fmt: skip
    except ClientError as exc:
        return problem(request, explain(exc))
    return go(request, "/chats")


async def sign_in(request: Request) -> Response:
    form = await request.form()
    username = str(form.get("username", "")).strip()
    password, passphrase = str(form.get("password", "")), str(form.get("passphrase", ""))
    if not username or not password or not passphrase:
        return problem(request, "Please fill in every field.")
    try:
        await state(request).sign_in(username, password, passphrase)
    except ConsentRequired:  # signed in; the keys open once the new policy is accepted
        return go(request, consent_url("/chats"))
    except ClientError as exc:
        return problem(request, explain(exc))
    return go(request, "/chats")


async def unlock(request: Request) -> Response:
    form = await request.form()
    try:
        await state(request).unlock(str(form.get("passphrase", "")))
    except WrongPassphrase:
        return problem(request, "That passphrase does not open this device's keys.")
    except ConsentRequired:
        return go(request, consent_url("/chats"))
    except ClientError as exc:
        return problem(request, explain(exc))
    return go(request, "/chats")


async def sign_out(request: Request) -> Response:
    try:
        await state(request).sign_out()
    except ClientError as exc:
        return problem(request, explain(exc))
    return go(request, "/welcome")


async def events(request: Request) -> Response:
    """Server-Sent Events: ``update`` whenever this device learnt something new."""

    async def stream() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        async for version in state(request).updates():
            yield f"event: update\ndata: {version}\n\n" if version >= 0 else ": keep-alive\n\n"

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


def explain(exc: ClientError) -> str:
    if isinstance(exc, ConsentRequired):
        return "The server needs your consent first: see the privacy center."
    if isinstance(exc, ApiError):
        return exc.message
    return str(exc)


routes = [
    Route("/", home),
    Route("/welcome", welcome),
    Route("/signup", sign_up, methods=["POST"]),
    Route("/signin", sign_in, methods=["POST"]),
    Route("/unlock", unlock, methods=["POST"]),
    Route("/signout", sign_out, methods=["POST"]),
    Route("/events", events),
]
