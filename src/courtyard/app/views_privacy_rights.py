"""The privacy center's rights pages: ask for (or cancel) erasure, complain and read the
answers, and the operator's notices (docs/user-rights.md), through ``client.privacy``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.app.pages import go, problem, render, state
from courtyard.app.views_auth import explain
from courtyard.client import ApiError, ClientError
from courtyard.client.messenger import Messenger
from courtyard.client.privacy_rights import Erasure

MAX_SUBJECT, MAX_BODY = 200, 10_000


async def erasure(request: Request) -> Response:
    """Your erasure request and what you can do about it."""
    if not state(request).unlocked:
        return go(request, "/welcome")

    async def read(m: Messenger) -> Erasure | None:
        try:
            return await m.client.privacy.erasure()
        except ApiError as exc:
            if exc.code == "erasure_not_found":
                return None
            raise

    try:
        found = await state(request).use(read)
    except ClientError as exc:
        return problem(request, explain(exc))
    return render(request, "privacy/erasure.html", current="privacy", erasure=found)


async def request_erasure(request: Request) -> Response:
    """Ask for erasure with the password; the password travels in this request only."""
    password = str((await request.form()).get("password", ""))
    if not password:
        return problem(request, "Type your password to confirm.")
    try:
        await state(request).use(lambda m: m.client.privacy.request_erasure(password))
    except ClientError as exc:
        return problem(request, explain(exc))
    return go(request, "/privacy/erasure")


async def cancel_erasure(request: Request) -> Response:
    try:
        await state(request).use(lambda m: m.client.privacy.cancel_erasure())
    except ClientError as exc:
        return problem(request, explain(exc))
    return go(request, "/privacy/erasure")


async def complaints(request: Request) -> Response:
    """Your complaints with deadlines and answers, and the form for a new one."""
    if not state(request).unlocked:
        return go(request, "/welcome")
    try:
        listed = await state(request).use(lambda m: m.client.privacy.complaints())
    except ClientError as exc:
        return problem(request, explain(exc))
    filed = request.query_params.get("filed")
    return render(
        request, "privacy/complaints.html", current="privacy", complaints=listed, filed=filed,
        max_subject=MAX_SUBJECT, max_body=MAX_BODY,
    )  # fmt: skip


async def complain(request: Request) -> Response:
    form = await request.form()
    subject, body = (str(form.get(name, "")).strip() for name in ("subject", "body"))
    if not subject or not body:
        return problem(request, "Give your complaint a subject and say what it is about.")
    try:
        filed = await state(request).use(lambda m: m.client.privacy.complain(subject, body))
    except ClientError as exc:
        return problem(request, explain(exc))
    return go(request, f"/privacy/complaints?filed={filed.complaint_id}")


async def notices(request: Request) -> Response:
    if not state(request).unlocked:
        return go(request, "/welcome")
    try:
        listed = await state(request).use(lambda m: m.client.privacy.notices())
    except ClientError as exc:
        return problem(request, explain(exc))
    return render(request, "privacy/notices.html", current="privacy", notices=listed)


routes = [
    Route("/privacy/erasure", erasure),
    Route("/privacy/erasure", request_erasure, methods=["POST"]),
    Route("/privacy/erasure/cancel", cancel_erasure, methods=["POST"]),
    Route("/privacy/complaints", complaints),
    Route("/privacy/complaints", complain, methods=["POST"]),
    Route("/privacy/notices", notices),
]
