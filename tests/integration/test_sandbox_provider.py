"""The sandbox payment provider through its HTTP API (``ASGITransport``) and typed client:
idempotent operations, each behaviour, signed callbacks retried from a durable outbox, cancel,
settlements, balance, the pay page, API keys, and the ``courtyard sandbox-provider`` CLI."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from courtyard.cli import sandbox_provider as cli_module
from courtyard.cli.main import app as cli_app
from courtyard.core.callback_signatures import SIGNATURE_HEADER, BadSignature, verify
from courtyard.core.clock import FrozenClock
from courtyard.sandbox.app import create_sandbox_app, get_sandbox
from courtyard.sandbox.client import (
    Accepted,
    BehaviourOptions,
    SandboxProviderClient,
    SandboxProviderError,
)
from courtyard.sandbox.runtime import Sandbox

API_KEY = "sk_test_sandbox"
SECRET = "whsec_sandbox"
BASE_URL = "http://sandbox.test"
CALLBACK_URL = "http://wallet.test/v1/wallet/providers/sandbox/callbacks"


@dataclass
class Receiver:
    """The wallet's callback endpoint: records each POST and answers the scripted statuses
    (or raises the scripted network errors), then 200."""

    statuses: list[int | httpx.TransportError] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.statuses.pop(0) if self.statuses else 200
        if isinstance(answer, httpx.TransportError):
            raise answer
        return httpx.Response(answer)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


@dataclass
class Harness:
    app: FastAPI
    sandbox: Sandbox
    client: SandboxProviderClient
    http: httpx.AsyncClient
    clock: FrozenClock
    receiver: Receiver

    def now(self) -> int:
        return int(self.clock.now().timestamp())

    async def settle_and_deliver(self) -> int:
        await self.sandbox.settle_due()
        return await self.sandbox.deliver_due()

    async def charge(
        self, operation_id: str, amount_minor: int = 1250, currency: str = "EUR", **kw: Any
    ) -> Accepted:
        behaviour: BehaviourOptions | None = kw.pop("behaviour", None)
        return await self.client.create_charge(
            operation_id, amount_minor, currency, CALLBACK_URL, behaviour=behaviour, **kw
        )


@asynccontextmanager
async def running(
    path: Path, clock: FrozenClock, receiver: Receiver, **options: Any
) -> AsyncIterator[Harness]:
    """The sandbox app on ``path`` with its lifespan entered and no background loop."""
    options.setdefault("background", False)
    app = create_sandbox_app(
        path,
        api_key=API_KEY,
        callback_secret=SECRET,
        clock=clock,
        callback_transport=httpx.MockTransport(receiver),
        **options,
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        SandboxProviderClient(BASE_URL, API_KEY, transport=transport) as client,
        httpx.AsyncClient(base_url=BASE_URL, transport=transport) as http,
    ):
        yield Harness(app, get_sandbox(app), client, http, clock, receiver)


@pytest.fixture
async def sbx(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running(tmp_path / "sandbox-provider.db", FrozenClock(), Receiver()) as harness:
        yield harness


# --- idempotency -------------------------------------------------------------------------


async def test_repeating_a_charge_returns_the_same_operation(sbx: Harness) -> None:
    first = await sbx.charge("op-1")
    again = await sbx.charge("op-1")
    assert again == first
    assert first.status == "pending"
    assert first.pay_url is None
    assert await sbx.settle_and_deliver() == 1
    assert len(sbx.receiver.requests) == 1
    assert await sbx.client.balance() == {"EUR": 1250}


async def test_repeating_after_settlement_answers_the_current_status(sbx: Harness) -> None:
    first = await sbx.charge("op-1")
    await sbx.settle_and_deliver()
    again = await sbx.charge("op-1")
    assert (again.provider_ref, again.status) == (first.provider_ref, "succeeded")


@pytest.mark.parametrize(
    "change",
    [
        {"amount_minor": 1251},
        {"currency": "USD"},
        {"destination": "acct_tok_1"},
        {"behaviour": {"outcome": "fail"}},
    ],
)
async def test_reusing_an_operation_id_with_other_parameters_conflicts(
    sbx: Harness, change: dict[str, Any]
) -> None:
    await sbx.charge("op-1")
    with pytest.raises(SandboxProviderError) as caught:
        await sbx.charge("op-1", **change)
    assert (caught.value.status_code, caught.value.code) == (409, "idempotency_conflict")
    assert not caught.value.retryable


async def test_a_payout_cannot_reuse_a_charge_id(sbx: Harness) -> None:
    await sbx.charge("op-1")
    with pytest.raises(SandboxProviderError) as caught:
        await sbx.client.create_payout("op-1", 1250, "EUR", CALLBACK_URL, destination="acct_1")
    assert caught.value.code == "idempotency_conflict"


async def test_a_repeat_may_leave_out_the_behaviour(sbx: Harness) -> None:
    first = await sbx.charge("op-1", behaviour={"outcome": "never"})
    assert await sbx.charge("op-1") == first


# --- outcomes and callbacks --------------------------------------------------------------


async def test_succeed_settles_and_sends_a_signed_callback(sbx: Harness) -> None:
    accepted = await sbx.charge("op-1")
    assert await sbx.settle_and_deliver() == 1
    [request] = sbx.receiver.requests
    assert str(request.url) == CALLBACK_URL
    verify(SECRET.encode(), request.headers[SIGNATURE_HEADER], request.content, now=sbx.now())
    [event] = sbx.receiver.events()
    assert event == {
        "event_id": event["event_id"],
        "operation_id": "op-1",
        "provider_ref": accepted.provider_ref,
        "kind": "charge",
        "status": "succeeded",
        "amount_minor": 1250,
        "currency": "EUR",
        "failure_code": None,
        "occurred_at": "2026-01-01T00:00:00.000000+00:00",
    }
    status = await sbx.client.status("op-1")
    assert (status.status, status.settled_at) == ("succeeded", sbx.clock.now())


async def test_fail_reports_failed_with_a_failure_code(sbx: Harness) -> None:
    await sbx.charge("op-1", behaviour={"outcome": "fail"})
    await sbx.client.create_payout(
        "op-2", 500, "EUR", CALLBACK_URL, destination="acct_1", behaviour={"outcome": "fail"}
    )
    assert await sbx.settle_and_deliver() == 2
    codes = {e["operation_id"]: (e["status"], e["failure_code"]) for e in sbx.receiver.events()}
    assert codes == {"op-1": ("failed", "card_declined"), "op-2": ("failed", "payout_rejected")}
    assert (await sbx.client.status("op-1")).failure_code == "card_declined"
    assert await sbx.client.balance() == {}


async def test_never_stays_pending_and_sends_nothing(sbx: Harness) -> None:
    await sbx.charge("op-1", behaviour={"outcome": "never"})
    sbx.clock.advance(days=3)
    assert await sbx.settle_and_deliver() == 0
    assert (await sbx.client.status("op-1")).status == "pending"
    assert sbx.receiver.requests == []


async def test_delay_is_honoured_by_the_clock(sbx: Harness) -> None:
    await sbx.charge("op-1", behaviour={"delay_ms": 5000})
    sbx.clock.advance(milliseconds=4999)
    assert await sbx.sandbox.settle_due() == 0
    assert (await sbx.client.status("op-1")).status == "pending"
    sbx.clock.advance(milliseconds=1)
    assert await sbx.settle_and_deliver() == 1
    assert sbx.receiver.events()[0]["occurred_at"] == "2026-01-01T00:00:05.000000+00:00"


async def test_duplicates_deliver_the_same_event_again(sbx: Harness) -> None:
    await sbx.charge("op-1", behaviour={"duplicates": 2})
    assert await sbx.settle_and_deliver() == 3
    bodies = {r.content for r in sbx.receiver.requests}
    assert len(sbx.receiver.requests) == 3
    assert len(bodies) == 1


async def test_bad_signature_is_signed_with_another_key(sbx: Harness) -> None:
    await sbx.charge("op-1", behaviour={"bad_signature": True})
    await sbx.settle_and_deliver()
    [request] = sbx.receiver.requests
    with pytest.raises(BadSignature, match="does not match"):
        verify(SECRET.encode(), request.headers[SIGNATURE_HEADER], request.content, sbx.now())


async def test_wrong_amount_reports_one_more_minor_unit(sbx: Harness) -> None:
    await sbx.charge("op-1", 1250, behaviour={"wrong_amount": True})
    await sbx.settle_and_deliver()
    [request] = sbx.receiver.requests
    verify(SECRET.encode(), request.headers[SIGNATURE_HEADER], request.content, now=sbx.now())
    assert sbx.receiver.events()[0]["amount_minor"] == 1251
    assert (await sbx.client.status("op-1")).amount_minor == 1250


async def test_drop_callbacks_settles_without_a_callback(sbx: Harness) -> None:
    await sbx.charge("op-1", behaviour={"drop_callbacks": True})
    assert await sbx.settle_and_deliver() == 0
    assert (await sbx.client.status("op-1")).status == "succeeded"
    assert sbx.receiver.requests == []
    assert await sbx.sandbox.store.undelivered_count() == 0


# --- delivery retries and restarts -------------------------------------------------------


async def test_callbacks_are_retried_until_a_2xx(sbx: Harness) -> None:
    sbx.receiver.statuses = [500, 500]
    await sbx.charge("op-1")
    assert await sbx.settle_and_deliver() == 0  # 500; next attempt in 1 s
    sbx.clock.advance(seconds=1)
    assert await sbx.sandbox.deliver_due() == 0  # 500; next attempt in 2 s
    sbx.clock.advance(seconds=1)
    assert await sbx.sandbox.deliver_due() == 0
    assert len(sbx.receiver.requests) == 2  # not due yet
    sbx.clock.advance(seconds=1)
    assert await sbx.sandbox.deliver_due() == 1
    assert len(sbx.receiver.requests) == 3
    assert len({r.content for r in sbx.receiver.requests}) == 1
    # Each attempt is signed afresh, so a late retry is not refused as stale.
    last = sbx.receiver.requests[-1]
    verify(SECRET.encode(), last.headers[SIGNATURE_HEADER], last.content, now=sbx.now())
    sbx.clock.advance(hours=2)
    assert await sbx.sandbox.deliver_due() == 0
    assert len(sbx.receiver.requests) == 3


async def test_unreachable_receivers_are_retried(sbx: Harness) -> None:
    sbx.receiver.statuses = [httpx.ConnectError("connection refused")]
    await sbx.charge("op-1")
    assert await sbx.settle_and_deliver() == 0
    sbx.clock.advance(seconds=1)
    assert await sbx.sandbox.deliver_due() == 1
    assert len(sbx.receiver.requests) == 2


async def test_backoff_doubles_to_an_hour_and_gives_up_after_a_day(sbx: Harness) -> None:
    sbx.receiver.statuses = [500] * 100
    await sbx.charge("op-1")
    await sbx.settle_and_deliver()
    expected = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048] + [3600] * 23
    assert sum(expected[:-1]) < 24 * 3600 <= sum(expected)
    for attempt, wait in enumerate(expected, start=2):
        sbx.clock.advance(seconds=wait - 1)
        await sbx.sandbox.deliver_due()
        assert len(sbx.receiver.requests) == attempt - 1, f"attempt {attempt} came early"
        sbx.clock.advance(seconds=1)
        await sbx.sandbox.deliver_due()
        assert len(sbx.receiver.requests) == attempt, f"attempt {attempt} did not come"
    # The attempt at or after 24 h failed too: the callback is abandoned.
    assert await sbx.sandbox.store.undelivered_count() == 0
    sbx.clock.advance(days=2)
    assert await sbx.sandbox.deliver_due() == 0
    assert len(sbx.receiver.requests) == 1 + len(expected)


async def test_a_restart_carries_the_outbox_on(tmp_path: Path) -> None:
    path, clock = tmp_path / "sandbox-provider.db", FrozenClock()
    first = Receiver(statuses=[503])
    async with running(path, clock, first) as sbx:
        await sbx.charge("op-1", behaviour={"duplicates": 1})
        await sbx.charge("op-2", behaviour={"delay_ms": 60_000})
        assert await sbx.settle_and_deliver() == 1  # one copy got 503, one got through
    second = Receiver()
    clock.advance(minutes=1)
    async with running(path, clock, second) as sbx:
        assert await sbx.settle_and_deliver() == 2
        assert (await sbx.client.status("op-2")).status == "succeeded"
        assert await sbx.charge("op-1") == await sbx.charge("op-1")
    assert [e["operation_id"] for e in second.events()] == ["op-1", "op-2"]
    assert first.requests[0].content == second.requests[0].content


async def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def test_the_background_loop_settles_and_delivers_by_itself(tmp_path: Path) -> None:
    receiver = Receiver(statuses=[500])
    async with running(tmp_path / "s.db", FrozenClock(), receiver, background=True) as sbx:
        await sbx.charge("op-1")
        await wait_until(lambda: len(receiver.requests) == 1)
        sbx.clock.advance(seconds=1)
        await wait_until(lambda: len(receiver.requests) == 2)
        assert (await sbx.client.status("op-1")).status == "succeeded"
    assert receiver.events()[0]["status"] == "succeeded"
    assert receiver.requests[0].content == receiver.requests[1].content


# --- cancel, settlements, balance ---------------------------------------------------------


async def test_cancel_moves_only_pending_operations(sbx: Harness) -> None:
    await sbx.charge("op-1", behaviour={"outcome": "never"})
    await sbx.charge("op-2")
    await sbx.settle_and_deliver()
    cancelled = await sbx.client.cancel("op-1")
    assert (cancelled.status, cancelled.settled_at) == ("cancelled", sbx.clock.now())
    assert (await sbx.client.cancel("op-2")).status == "succeeded"
    assert (await sbx.client.cancel("op-1")).status == "cancelled"
    assert len(sbx.receiver.requests) == 1  # cancelling sends no callback


async def test_a_cancelled_operation_does_not_settle_later(sbx: Harness) -> None:
    await sbx.charge("op-1", behaviour={"delay_ms": 1000})
    await sbx.client.cancel("op-1")
    sbx.clock.advance(seconds=2)
    assert await sbx.settle_and_deliver() == 0
    assert (await sbx.client.status("op-1")).status == "cancelled"


async def test_settlements_list_operations_by_utc_day(sbx: Harness) -> None:
    sbx.clock.advance(hours=23, minutes=59)
    await sbx.charge("op-1")
    await sbx.charge("op-2", behaviour={"delay_ms": 120_000})  # settles after midnight
    await sbx.charge("op-3", behaviour={"outcome": "never"})
    await sbx.sandbox.settle_due()
    sbx.clock.advance(minutes=2)
    await sbx.sandbox.settle_due()
    day1 = await sbx.client.settlements(dt.date(2026, 1, 1))
    day2 = await sbx.client.settlements(dt.date(2026, 1, 2))
    assert [(line.operation_id, line.status) for line in day1] == [("op-1", "succeeded")]
    assert [(line.operation_id, line.kind, line.amount_minor) for line in day2] == [
        ("op-2", "charge", 1250)
    ]
    assert await sbx.client.settlements(dt.date(2025, 12, 31)) == []


async def test_balance_is_charges_minus_payouts_per_currency(sbx: Harness) -> None:
    await sbx.charge("c-1", 10_000, "EUR")
    await sbx.charge("c-2", 700, "USD")
    await sbx.charge("c-3", 999, "EUR", behaviour={"outcome": "fail"})
    await sbx.client.create_payout("p-1", 2_500, "EUR", CALLBACK_URL, destination="acct_1")
    await sbx.client.create_payout(
        "p-2", 100, "USD", CALLBACK_URL, destination="acct_1", behaviour={"outcome": "never"}
    )
    await sbx.sandbox.settle_due()
    assert await sbx.client.balance() == {"EUR": 7_500, "USD": 700}


# --- the pay page ------------------------------------------------------------------------


async def test_wait_for_payer_charges_are_paid_from_the_pay_page(sbx: Harness) -> None:
    accepted = await sbx.charge("op-1", behaviour={"outcome": "wait_for_payer"})
    assert accepted.pay_url == f"{BASE_URL}/pay/op-1"
    page = await sbx.http.get("/pay/op-1")  # no API key: the payer's browser
    assert page.status_code == 200
    assert 'value="pay"' in page.text
    assert "12.50 EUR" in page.text
    sbx.clock.advance(days=1)
    assert await sbx.settle_and_deliver() == 0  # waits for the payer, however long
    clicked = await sbx.http.post("/pay/op-1", data={"decision": "pay"})
    assert clicked.status_code == 303
    assert clicked.headers["location"] == f"{BASE_URL}/pay/op-1"
    assert await sbx.sandbox.deliver_due() == 1
    assert sbx.receiver.events()[0]["status"] == "succeeded"
    after = await sbx.http.get("/pay/op-1")
    assert "succeeded" in after.text
    assert 'value="pay"' not in after.text
    assert (await sbx.charge("op-1", behaviour={"outcome": "wait_for_payer"})).pay_url is None


async def test_declining_on_the_pay_page_fails_the_charge(sbx: Harness) -> None:
    await sbx.charge("op-1", behaviour={"outcome": "wait_for_payer"})
    await sbx.http.post("/pay/op-1", data={"decision": "decline"})
    await sbx.http.post("/pay/op-1", data={"decision": "pay"})  # too late: no change
    status = await sbx.client.status("op-1")
    assert (status.status, status.failure_code) == ("failed", "payer_declined")


async def test_the_pay_url_uses_the_public_url_when_set(tmp_path: Path) -> None:
    public = "https://pay.example/sandbox/"
    async with running(tmp_path / "s.db", FrozenClock(), Receiver(), public_url=public) as sbx:
        accepted = await sbx.charge("op-1", behaviour={"outcome": "wait_for_payer"})
    assert accepted.pay_url == "https://pay.example/sandbox/pay/op-1"


async def test_wait_for_payer_is_for_charges_only(sbx: Harness) -> None:
    with pytest.raises(SandboxProviderError) as caught:
        await sbx.client.create_payout(
            "p-1",
            100,
            "EUR",
            CALLBACK_URL,
            destination="a",
            behaviour={"outcome": "wait_for_payer"},
        )
    assert (caught.value.status_code, caught.value.code) == (400, "invalid_behaviour")


# --- control ------------------------------------------------------------------------------


async def test_control_sets_the_defaults_for_new_operations(sbx: Harness) -> None:
    await sbx.charge("before")
    defaults = await sbx.client.control(outcome="fail", delay_ms=500)
    assert (defaults.outcome, defaults.delay_ms, defaults.fail_rate) == ("fail", 500, 0.0)
    await sbx.charge("after")
    await sbx.charge("explicit", behaviour={"outcome": "succeed"})
    sbx.clock.advance(milliseconds=500)
    await sbx.sandbox.settle_due()
    statuses = {op: (await sbx.client.status(op)).status for op in ("before", "after", "explicit")}
    assert statuses == {"before": "succeeded", "after": "failed", "explicit": "succeeded"}
    assert (await sbx.client.control()).outcome == "fail"  # an empty update changes nothing


async def test_fail_rate_fails_operations_without_an_explicit_outcome(sbx: Harness) -> None:
    await sbx.client.control(fail_rate=1.0)
    await sbx.charge("random")
    await sbx.charge("explicit", behaviour={"outcome": "succeed"})
    await sbx.client.control(fail_rate=0.0)
    await sbx.charge("after")
    await sbx.sandbox.settle_due()
    statuses = {op: (await sbx.client.status(op)).status for op in ("random", "explicit", "after")}
    assert statuses == {"random": "failed", "explicit": "succeeded", "after": "succeeded"}


async def test_control_outlives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with running(path, FrozenClock(), Receiver()) as sbx:
        await sbx.client.control(drop_callbacks=True, duplicates=1)
    async with running(path, FrozenClock(), Receiver()) as sbx:
        defaults = await sbx.client.control()
    assert (defaults.drop_callbacks, defaults.duplicates) == (True, 1)


# --- input and authentication -------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/charges"),
        ("POST", "/payouts"),
        ("GET", "/operations/op-1"),
        ("POST", "/operations/op-1/cancel"),
        ("GET", "/settlements?day=2026-01-01"),
        ("GET", "/balance"),
        ("POST", "/control"),
    ],
)
@pytest.mark.parametrize("key", [None, "wrong", ""])
async def test_the_api_key_is_required(
    sbx: Harness, method: str, path: str, key: str | None
) -> None:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    response = await sbx.http.request(method, path, headers=headers, json={})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_api_key"


async def test_unknown_operations_are_404(sbx: Harness) -> None:
    for call in (sbx.client.status, sbx.client.cancel):
        with pytest.raises(SandboxProviderError) as caught:
            await call("nope")
        assert (caught.value.status_code, caught.value.code) == (404, "operation_not_found")
    assert (await sbx.http.get("/pay/nope")).status_code == 404
    nowhere = await sbx.http.get("/nowhere", headers={"Authorization": f"Bearer {API_KEY}"})
    assert (nowhere.status_code, nowhere.json()["code"]) == (404, "not_found")


async def test_a_payout_needs_a_destination(sbx: Harness) -> None:
    response = await sbx.http.post(
        "/payouts",
        headers={"Authorization": f"Bearer {API_KEY}"},
        json={
            "operation_id": "p",
            "amount_minor": 1,
            "currency": "EUR",
            "callback_url": CALLBACK_URL,
        },
    )
    assert (response.status_code, response.json()["code"]) == (400, "destination_required")


@pytest.mark.parametrize(
    "change",
    [
        {"amount_minor": 12.5},
        {"amount_minor": "1250"},
        {"amount_minor": 0},
        {"currency": "eur"},
        {"callback_url": "ftp://x"},
        {"operation_id": "has space"},
        {"behaviour": {"outcome": "maybe"}},
        {"behaviour": {"delay_ms": -1}},
        {"behaviour": {"surprise": True}},
    ],
)
async def test_invalid_requests_are_refused(sbx: Harness, change: dict[str, Any]) -> None:
    body = {"operation_id": "op-1", "amount_minor": 1250, "currency": "EUR"}
    body |= {"callback_url": CALLBACK_URL} | change
    response = await sbx.http.post(
        "/charges", headers={"Authorization": f"Bearer {API_KEY}"}, json=body
    )
    assert (response.status_code, response.json()["code"]) == (422, "invalid_request")
    assert await sbx.sandbox.store.get_operation("op-1") is None


async def test_the_client_reports_an_unreachable_provider() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with SandboxProviderClient(BASE_URL, API_KEY, transport=httpx.MockTransport(down)) as c:
        with pytest.raises(SandboxProviderError) as caught:
            await c.balance()
    assert caught.value.status_code is None
    assert caught.value.retryable


# --- the CLI ------------------------------------------------------------------------------


def test_cli_help_lists_the_sandbox_provider_commands() -> None:
    result = CliRunner().invoke(cli_app, ["sandbox-provider", "--help"])
    assert result.exit_code == 0, result.output
    assert "serve" in result.output
    assert "control" in result.output


def test_cli_serve_builds_the_app_on_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    args = ["sandbox-provider", "serve", "--api-key", API_KEY, "--secret", SECRET]
    args += ["--port", "8999", "--data-dir", str(tmp_path / "var")]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    assert served["port"] == 8999
    app = served["app"]
    assert isinstance(app, FastAPI)

    async def start() -> None:
        async with app.router.lifespan_context(app):
            pass

    asyncio.run(start())
    assert (tmp_path / "var" / "sandbox-provider.db").exists()


def test_cli_control_posts_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[httpx.Request] = []
    defaults = {"outcome": "succeed", "delay_ms": 500, "duplicates": 0, "bad_signature": False}
    defaults |= {"wrong_amount": False, "drop_callbacks": True, "fail_rate": 0.2}

    def provider(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=defaults)

    real: Callable[..., SandboxProviderClient] = SandboxProviderClient
    monkeypatch.setattr(
        cli_module,
        "SandboxProviderClient",
        lambda url, key: real(url, key, transport=httpx.MockTransport(provider)),
    )
    args = ["sandbox-provider", "control", "--url", BASE_URL, "--api-key", API_KEY]
    args += ["--fail-rate", "0.2", "--delay-ms", "500", "--drop-callbacks"]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    [request] = seen
    assert (request.method, str(request.url)) == ("POST", f"{BASE_URL}/control")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert json.loads(request.content) == {
        "fail_rate": 0.2,
        "delay_ms": 500,
        "drop_callbacks": True,
    }
    assert json.loads(result.stdout) == defaults


def test_cli_control_reports_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    def provider(request: httpx.Request) -> httpx.Response:
        problem = {"code": "invalid_api_key", "detail": "Missing or wrong API key"}
        return httpx.Response(401, json=problem)

    real: Callable[..., SandboxProviderClient] = SandboxProviderClient
    monkeypatch.setattr(
        cli_module,
        "SandboxProviderClient",
        lambda url, key: real(url, key, transport=httpx.MockTransport(provider)),
    )
    result = CliRunner().invoke(cli_app, ["sandbox-provider", "control", "--api-key", "bad"])
    assert result.exit_code == 1
    assert "invalid_api_key" in result.output
