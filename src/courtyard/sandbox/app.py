"""The sandbox provider's ASGI app: a small payment-provider simulator for demos and tests."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Literal

import httpx
from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from courtyard.core import errors
from courtyard.core.callback_signatures import SIGNATURE_HEADER, sign
from courtyard.core.clock import Clock, SystemClock
from courtyard.sandbox.pay_page import awaits_payer, render_pay_page
from courtyard.sandbox.runtime import Sandbox
from courtyard.sandbox.schemas import (
    Accepted,
    BalanceView,
    ControlRequest,
    Defaults,
    Kind,
    OperationRequest,
    OperationView,
    Report,
    ReportLine,
    SettlementLine,
    Settlements,
)
from courtyard.sandbox.store import Operation, iso

PROBLEM_MEDIA_TYPE = "application/problem+json"
HTTP_STATUSES = frozenset(status.value for status in HTTPStatus)
STATUS_BY_KIND: list[tuple[type[errors.CourtyardError], int]] = [
    (errors.InvalidInput, 400),
    (errors.NotAuthenticated, 401),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
]
bearer = HTTPBearer(auto_error=False, description="The sandbox provider's API key.")


class InvalidApiKey(errors.NotAuthenticated):
    code = "invalid_api_key"
    title = "Missing or wrong API key"


def get_sandbox(app: FastAPI) -> Sandbox:
    """The running sandbox of ``app`` (set by its lifespan); tests drive it through this."""
    sandbox: Sandbox = app.state.sandbox
    return sandbox


def _sandbox(conn: HTTPConnection) -> Sandbox:
    return get_sandbox(conn.app)


def _check_api_key(
    conn: HTTPConnection,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    expected: bytes = conn.app.state.api_key
    given = credentials.credentials.encode() if credentials else b""
    if not hmac.compare_digest(given, expected):
        raise InvalidApiKey()


SandboxDep = Annotated[Sandbox, Depends(_sandbox)]


def operation_view(op: Operation) -> OperationView:
    return OperationView(
        operation_id=op.operation_id,
        provider_ref=op.provider_ref,
        kind=op.kind,
        status=op.state,
        amount_minor=op.amount_minor,
        currency=op.currency,
        failure_code=op.failure_code,
        created_at=op.created_at,
        settled_at=op.settled_at,
    )


def _accepted(request: Request, op: Operation) -> Accepted:
    next_action = None
    if op.kind == "charge" and awaits_payer(op):
        public_url: str | None = request.app.state.public_url
        if public_url:
            pay_url = f"{public_url.rstrip('/')}/pay/{op.operation_id}"
        else:
            pay_url = str(request.url_for("pay_page", operation_id=op.operation_id))
        next_action = {"pay_url": pay_url}
    return Accepted(provider_ref=op.provider_ref, status=op.state, next_action=next_action)


async def _create(
    request: Request, sandbox: Sandbox, kind: Kind, body: OperationRequest
) -> Accepted:
    op = await sandbox.service.do_create(kind, body)
    sandbox.wake()
    return _accepted(request, op)


api = APIRouter(dependencies=[Depends(_check_api_key)])


@api.post("/charges", response_model=Accepted)
async def create_charge(request: Request, sandbox: SandboxDep, body: OperationRequest) -> Accepted:
    """Create a charge (a top-up); repeating the same ``operation_id`` and parameters returns
    the same operation, other parameters answer 409 ``idempotency_conflict``."""
    return await _create(request, sandbox, "charge", body)


@api.post("/payouts", response_model=Accepted)
async def create_payout(request: Request, sandbox: SandboxDep, body: OperationRequest) -> Accepted:
    """Create a payout (a withdrawal) to ``destination``; idempotent like charges."""
    return await _create(request, sandbox, "payout", body)


@api.get("/operations/{operation_id}", response_model=OperationView)
async def get_operation(sandbox: SandboxDep, operation_id: str) -> OperationView:
    """The operation's current status."""
    return operation_view(await sandbox.store.access_operation(operation_id))


@api.post("/operations/{operation_id}/cancel", response_model=OperationView)
async def cancel_operation(sandbox: SandboxDep, operation_id: str) -> OperationView:
    """Cancel a pending operation; a settled one is returned unchanged."""
    return operation_view(await sandbox.service.do_cancel(operation_id))


@api.get("/settlements", response_model=Settlements)
async def settlements(sandbox: SandboxDep, day: dt.date) -> Settlements:
    """Operations that reached a final state (succeeded, failed, cancelled) on UTC ``day``."""
    lines = [
        SettlementLine(
            operation_id=op.operation_id,
            provider_ref=op.provider_ref,
            kind=op.kind,
            amount_minor=op.amount_minor,
            currency=op.currency,
            status=op.state,
        )
        for op in await sandbox.store.settled_on(day)
    ]
    return Settlements(day=day.isoformat(), lines=lines)


@api.get("/balance", response_model=BalanceView)
async def balance(sandbox: SandboxDep) -> BalanceView:
    """Per currency, succeeded charges minus succeeded payouts, in minor units."""
    return BalanceView(balances=await sandbox.store.balances())


@api.get(
    "/report",
    response_model=Report,
    responses={200: {"headers": {SIGNATURE_HEADER: {"description": "t=<unix>,v1=<hex>"}}}},
)
async def report(sandbox: SandboxDep, day: dt.date) -> Response:
    """For reconciliation: the operations that reached a final state on UTC ``day`` and the
    balance per currency now. The body is signed with the callback secret, as callbacks are
    (``Courtyard-Signature``), so the wallet can tell the report came from us."""
    settled, balances = await sandbox.store.report(day)
    now = sandbox.service.clock.now()
    lines = [
        ReportLine(
            operation_id=op.operation_id,
            provider_ref=op.provider_ref,
            kind=op.kind,
            amount_minor=op.amount_minor,
            currency=op.currency,
            status=op.state,
            settled_at=op.settled_at or "",
        )
        for op in settled
    ]
    body = (
        Report(day=day.isoformat(), generated_at=iso(now), operations=lines, balances=balances)
        .model_dump_json()
        .encode()
    )
    signature = sign(sandbox.delivery.secret, body, int(now.timestamp()))
    return Response(body, media_type="application/json", headers={SIGNATURE_HEADER: signature})


@api.post("/control", response_model=Defaults)
async def control(sandbox: SandboxDep, body: ControlRequest) -> Defaults:
    """Change the behaviour of operations created from now on; answers the new defaults."""
    defaults = await sandbox.service.do_control(body)
    sandbox.wake()
    return defaults


pages = APIRouter()


@pages.get("/pay/{operation_id}", response_class=HTMLResponse, name="pay_page")
async def pay_page(sandbox: SandboxDep, operation_id: str) -> HTMLResponse:
    """The payer's page for a charge waiting for the payer (no API key: it is for browsers)."""
    op = await sandbox.store.access_operation(operation_id)
    return HTMLResponse(render_pay_page(op))


@pages.post("/pay/{operation_id}", response_class=RedirectResponse, status_code=303)
async def pay(
    request: Request,
    sandbox: SandboxDep,
    operation_id: str,
    decision: Annotated[Literal["pay", "decline"], Form()],
) -> RedirectResponse:
    """The payer's Pay or Decline; redirects back to the page, which shows the result."""
    await sandbox.service.do_pay(operation_id, accept=decision == "pay")
    sandbox.wake()
    return RedirectResponse(str(request.url), 303)


def _problem(status: int, code: str, title: str, detail: str | None = None) -> JSONResponse:
    body = {"type": f"urn:courtyard:problem:{code}", "title": title, "status": status}
    body |= {"code": code, "detail": detail}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


async def _courtyard_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.CourtyardError)
    status = next((s for kind, s in STATUS_BY_KIND if isinstance(exc, kind)), 500)
    return _problem(status, exc.code, exc.title, exc.detail)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    detail = f"{where}: {first.get('msg', '')}" if first else None
    return _problem(422, "invalid_request", "The request does not match the schema", detail)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    phrase = HTTPStatus(exc.status_code).phrase if exc.status_code in HTTP_STATUSES else "Error"
    code = phrase.lower().replace(" ", "_").replace("-", "_")
    return _problem(exc.status_code, code, phrase, str(exc.detail))


def create_sandbox_app(
    path: str | Path,
    *,
    api_key: str,
    callback_secret: str | bytes,
    clock: Clock | None = None,
    callback_transport: httpx.AsyncBaseTransport | None = None,
    public_url: str | None = None,
    background: bool = True,
    poll_interval: float = 0.25,
    random_fraction: Callable[[], float] | None = None,
) -> FastAPI:
    """The sandbox provider on the SQLite file at ``path``.

    Args:
        api_key: the bearer token every API call must carry.
        callback_secret: the HMAC key callbacks are signed with.
        clock: time for operations and signatures (the system clock by default).
        callback_transport: the httpx transport callbacks are sent through (tests).
        public_url: base of ``pay_url`` links; by default, the URL the request came to.
        background: settle and deliver in a lifespan task; tests turn it off and call
            ``get_sandbox(app).settle_due()`` and ``.deliver_due()`` themselves.
        random_fraction: the source of ``fail_rate`` draws (``SystemRandom`` by default).
    """
    if not api_key or not callback_secret:
        raise errors.ConfigError("the sandbox provider needs an API key and a callback secret")
    secret = callback_secret.encode() if isinstance(callback_secret, str) else callback_secret

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sandbox = await Sandbox.open(
            path,
            clock=clock or SystemClock(),
            callback_secret=secret,
            callback_transport=callback_transport,
            random_fraction=random_fraction,
        )
        app.state.sandbox = sandbox
        try:
            if not background:
                yield
                return
            async with _background(sandbox, poll_interval):
                yield
        finally:
            await sandbox.close()

    app = FastAPI(title="Courtyard sandbox payment provider", version="1", lifespan=lifespan)
    app.state.api_key = api_key.encode()
    app.state.public_url = public_url
    app.include_router(api)
    app.include_router(pages)
    app.add_exception_handler(errors.CourtyardError, _courtyard_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    return app


@asynccontextmanager
async def _background(sandbox: Sandbox, poll_interval: float) -> AsyncIterator[None]:
    task = asyncio.create_task(sandbox.run(poll_interval), name="sandbox-provider-loop")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
