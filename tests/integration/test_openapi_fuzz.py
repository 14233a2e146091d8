"""Schemathesis over the whole OpenAPI spec, against the app served over real HTTP.

Every operation is called with generated valid and invalid requests, both anonymously and
with a live token of a registered user. Pins: no 5xx; every response has a documented status,
content type and body schema; no secured operation answers an anonymous caller with success.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis import APIOperation, Case, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from courtyard.api import create_app
from courtyard.core.clock import FrozenClock
from courtyard.core.config import Settings, load_settings
from tests.conftest import PASSWORD

Operation = APIOperation[Any, Any, Any, Any]
ApiCase = Case[Any]
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    status_code_conformance,
]
MAX_EXAMPLES = 30
MAX_SYNC_TIMEOUT_MS = 50  # long-polls may wait a minute; a fuzzer need not
# Operations that can end the session whose token made the request.
ENDS_SESSION = {
    ("DELETE", "/v1/sessions/current"),
    ("DELETE", "/v1/devices/{device_id}"),
    ("POST", "/v1/account/password"),
}


class LiveServer:
    """The app served by uvicorn on a free loopback port, on an event loop in its own thread;
    the lifespan starts the runtime on that loop, so requests and runtime share it."""

    def __init__(self, app: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="fuzz-server", daemon=True)
        self._ready = threading.Event()

    def _serve(self) -> None:
        async def serve() -> None:
            task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
            for _ in range(1000):
                if self._server.started or task.done():
                    break
                await asyncio.sleep(0.01)
            self._ready.set()
            await task

        asyncio.run(serve())

    def start(self) -> LiveServer:
        self._thread.start()
        self._ready.wait(timeout=30)
        if not self._server.started:
            raise RuntimeError("the fuzz target did not start")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()


def policy_fields(http: httpx.Client) -> dict[str, Any]:
    """What a registration in DE sends to consent to the current policy."""
    policy = http.get("/v1/privacy/policy", params={"country": "DE"}).json()
    return {"policy_version_hash": policy["version_hash"], "purposes": {}}


class Sessions:
    """Hands out a live session, registering a fresh user once the last one may have ended
    (logout, device removal, password change); fuzzed requests never learn its password."""

    def __init__(self, base_url: str) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=30)
        self._session: dict[str, str] | None = None

    def current(self) -> dict[str, str]:
        if self._session is None:
            response = self._http.post(
                "/v1/accounts",
                json={
                    "username": f"fuzz{uuid.uuid4().hex[:12]}",
                    "password": PASSWORD,
                    "display_name": "Fuzzer",
                    "region": "DE",
                    **policy_fields(self._http),
                },
            )
            assert response.status_code == 201, response.text
            self._session = response.json()
        return self._session

    def forget(self) -> None:
        self._session = None

    def close(self) -> None:
        self._http.close()


@pytest.fixture
def live_url(settings: Settings, clock: FrozenClock) -> Iterator[str]:
    server = LiveServer(create_app(settings, clock=clock)).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def sessions(live_url: str) -> Iterator[Sessions]:
    pool = Sessions(live_url)
    try:
        yield pool
    finally:
        pool.close()


def _spec() -> dict[str, Any]:
    # The spec is code, not state: an app that never starts (nor opens its in-memory
    # database) describes the same API as the one under test; a test below checks that.
    app = create_app(load_settings(database_url="sqlite+aiosqlite:///:memory:"))
    spec: dict[str, Any] = app.openapi()
    return spec


SPEC = _spec()
# An explicit config, so a schemathesis.toml lying around cannot change what runs.
schema = schemathesis.openapi.from_dict(SPEC, config=schemathesis.Config())


def test_the_fuzzed_spec_is_the_one_the_server_serves(live_url: str) -> None:
    served = httpx.get(f"{live_url}/openapi.json", timeout=30)
    assert served.status_code == 200
    assert served.json() == SPEC
    assert len(SPEC["paths"]) >= 10  # the whole API, not a filtered part


def _is_secured(case: ApiCase) -> bool:
    return bool(case.operation.definition.raw.get("security"))


def _bound_long_polls(case: ApiCase) -> None:
    timeout = (case.query or {}).get("timeout")
    if isinstance(timeout, int) and not isinstance(timeout, bool):
        case.query["timeout"] = min(timeout, MAX_SYNC_TIMEOUT_MS)


def _call(case: ApiCase, base_url: str, token: str | None) -> Response:
    case.headers.pop("Authorization", None)  # a case-insensitive dict
    if token is not None:
        case.headers["Authorization"] = f"Bearer {token}"
    response = case.call(base_url=base_url)
    case.validate_response(response, checks=CHECKS)
    return response


def _operations() -> list[Operation]:
    # Looking an operation up raises if schemathesis finds its definition invalid.
    return [schema[path][method.upper()] for path, ops in SPEC["paths"].items() for method in ops]


OPERATIONS = _operations()


def _cases() -> list[Any]:
    """Each operation with valid requests, and with invalid ones where it takes any input."""
    cases = []
    for operation in OPERATIONS:
        raw = operation.definition.raw
        modes = [GenerationMode.POSITIVE]
        if raw.get("parameters") or raw.get("requestBody"):
            modes.append(GenerationMode.NEGATIVE)
        cases += [
            pytest.param(operation, mode, id=f"{operation.label} {mode.value}") for mode in modes
        ]
    return cases


@pytest.mark.parametrize(("operation", "mode"), _cases())
def test_api_conforms_to_its_openapi_spec(
    operation: Operation, mode: GenerationMode, live_url: str, sessions: Sessions
) -> None:
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=operation.as_strategy(mode))
    def exercise(case: ApiCase) -> None:
        _exercise(case, live_url, sessions)

    exercise()


def _exercise(case: ApiCase, live_url: str, sessions: Sessions) -> None:
    _bound_long_polls(case)
    key = (case.method.upper(), case.path)

    anonymous = _call(case, live_url, None)
    if _is_secured(case):
        assert not 200 <= anonymous.status_code < 300, f"{key} served an anonymous caller"

    session = sessions.current()
    authenticated = _call(case, live_url, session["access_token"])
    if key in ENDS_SESSION and 200 <= authenticated.status_code < 300:
        sessions.forget()

    if "device_id" in (case.path_parameters or {}):
        # Random ids rarely name a device; also aim at the caller's own, to reach success.
        session = sessions.current()
        case.path_parameters["device_id"] = session["device_id"]
        own = _call(case, live_url, session["access_token"])
        if key in ENDS_SESSION and 200 <= own.status_code < 300:
            sessions.forget()


def test_success_answers_the_fuzzer_cannot_guess_conform_too(live_url: str) -> None:
    # Random data never forms a valid registration, nor knows a password: spell them out.
    register, login = schema["/v1/accounts"]["POST"], schema["/v1/sessions"]["POST"]
    account: dict[str, Any] = {
        "username": "conformer",
        "password": PASSWORD,
        "display_name": "C",
        "region": "DE",
    }
    with httpx.Client(base_url=live_url, timeout=30) as http:
        account.update(policy_fields(http))
    credentials: dict[str, Any] = {"username": "conformer", "password": PASSWORD}

    assert _call(register.Case(body=account), live_url, None).status_code == 201
    assert _call(register.Case(body=account), live_url, None).status_code == 409
    wrong: dict[str, Any] = {**credentials, "password": "not the password at all"}
    assert _call(login.Case(body=wrong), live_url, None).status_code == 401
    signed_in = _call(login.Case(body=credentials), live_url, None)
    assert signed_in.status_code == 200
    token = signed_in.json()["access_token"]

    change = schema["/v1/account/password"]["POST"].Case(
        body={"current_password": PASSWORD, "new_password": "a much better horse staple"}
    )
    assert _call(change, live_url, token).status_code == 204
    sync = schema["/v1/sync"]["GET"].Case(query={"since": 0})
    assert _call(sync, live_url, token).json()["events"]
