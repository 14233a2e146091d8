"""QR payments in the SDK against the real app through ``httpx.ASGITransport``: codes made by
the owner, checked offline by the payer, resolved, paid with exactly-once retries, refunded
and revoked. Every test ends with the ledger audit clean."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from courtyard.client import ApiError, Client, ProtocolError
from courtyard.client.payment_models import QrRejected
from courtyard.client.wallet import Wallet, WalletUnsure
from courtyard.client.wallet_payments import render_qr
from courtyard.core.money import Money
from courtyard.domains.wallet import audit_ledger
from tests.client_support import consent_for
from tests.conftest import PASSWORD
from tests.integration.merchant_support import forge, register_merchant
from tests.integration.test_client_wallet import Flaky
from tests.integration.wallet_support import fund

BASE_URL = "http://courtyard.test"
PIN = "246810"


class Recorder(httpx.AsyncBaseTransport):
    """Passes requests to the app and records them; ``rewrite`` may change JSON answers."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.seen: list[tuple[str, str]] = []
        self.rewrite: Callable[[str, dict[str, object]], dict[str, object]] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path))
        response = await self.inner.handle_async_request(request)
        if self.rewrite is None or response.headers.get("content-type") != "application/json":
            return response
        body = json.loads(await response.aread())
        return httpx.Response(response.status_code, json=self.rewrite(request.url.path, body))


@dataclass
class Shop:
    alice: Wallet
    bob: Wallet
    merchant_id: str
    recorder: Recorder


async def party(recorder: Recorder, username: str) -> Wallet:
    client = Client(BASE_URL, transport=recorder)
    await client.register(
        username, PASSWORD, username.title(), "DE", **await consent_for(client, "DE")
    )
    await client.wallet.set_pin(PIN, password=PASSWORD)
    client.wallet.pin = PIN
    return client.wallet


@pytest.fixture
async def shop(app: FastAPI) -> AsyncIterator[Shop]:
    """Alice (100.00 CNY) and Bob, who owns "Noodle Bar" (fee 1 %); Alice's requests are
    recorded."""
    recorder = Recorder(app)
    alice = await party(recorder, "alice")
    bob = await party(Recorder(app), "bob")
    await fund(app, (await alice.client.whoami()).user_id, 100_00)
    merchant_id = await register_merchant(app, (await bob.client.whoami()).user_id, fee_bps=100)
    try:
        yield Shop(alice, bob, merchant_id, recorder)
    finally:
        await alice.client.aclose()
        await bob.client.aclose()
        report = await audit_ledger(app.state.runtime.db)
        assert report.ok, report.findings


async def test_owner_makes_codes_and_the_payer_resolves_and_pays_them(shop: Shop) -> None:
    static = await shop.bob.qr_create(shop.merchant_id, "CNY", label="till")
    fixed = await shop.bob.qr_create(shop.merchant_id, amount=Money(12_00, "CNY"))
    assert (static.kind, static.amount, static.label) == ("static", None, "till")
    assert (fixed.kind, fixed.amount) == ("fixed", Money(12_00, "CNY"))
    assert static.payload is not None
    assert fixed.payload is not None
    assert [c.qr_id for c in await shop.bob.qr_list()] == [fixed.qr_id, static.qr_id]

    resolved = await shop.alice.resolve_qr(fixed.payload)
    assert (resolved.merchant.name, resolved.amount) == ("Noodle Bar", Money(12_00, "CNY"))
    paid = await shop.alice.pay(static.payload, "25.00")
    assert (paid.amount, paid.state, paid.fee, paid.replayed) == (
        Money(25_00, "CNY"), "completed", None, False,
    )  # fmt: skip
    assert (await shop.alice.pay(fixed.payload)).amount == Money(12_00, "CNY")
    assert await shop.alice.balance("CNY") == Money(63_00, "CNY")

    seen_by_owner = await shop.bob.payment(paid.payment_id)
    assert seen_by_owner.fee == Money(25, "CNY")
    (merchant,) = await shop.bob.merchants()
    assert merchant.balances == (Money(25_00 - 25 + 12_00 - 12, "CNY"),)
    page = await shop.bob.merchant_payments(shop.merchant_id, limit=1)
    assert len(page.payments) == 1
    assert page.next_before is not None
    # The keys were fetched once for every check this device made.
    assert shop.recorder.seen.count(("GET", "/v1/wallet/qr-keys")) == 1
    assert render_qr(fixed.payload, "png").startswith(b"\x89PNG")


async def test_a_tampered_code_is_refused_on_the_device_before_any_payment_call(
    shop: Shop,
) -> None:
    code = await shop.bob.qr_create(shop.merchant_id, amount=Money(50_00, "CNY"))
    assert code.payload is not None
    cheaper = forge(code.payload, a=1)
    for bad in (cheaper, code.payload[:-2], "courtyard://pay?p=x&s=y", "https://evil"):
        with pytest.raises(QrRejected) as rejected:
            await shop.alice.pay(bad)
        assert rejected.value.code == "invalid_qr"
        with pytest.raises(QrRejected):
            await shop.alice.resolve_qr(bad)
    posted = [path for method, path in shop.recorder.seen if method == "POST"]
    assert "/v1/wallet/payments" not in posted
    assert "/v1/wallet/qr/resolve" not in posted
    assert await shop.alice.balance("CNY") == Money(100_00, "CNY")


async def test_a_server_describing_another_code_than_the_signed_one_is_caught(
    shop: Shop,
) -> None:
    code = await shop.bob.qr_create(shop.merchant_id, amount=Money(5_00, "CNY"))
    assert code.payload is not None

    def lie(path: str, body: dict[str, object]) -> dict[str, object]:
        if path == "/v1/wallet/qr/resolve":
            return {**body, "amount": {"amount_minor": 1, "currency": "CNY", "amount": "0.01"}}
        return body

    shop.recorder.rewrite = lie
    with pytest.raises(ProtocolError, match="another code"):
        await shop.alice.resolve_qr(code.payload)


async def test_pay_retries_with_one_key_and_says_when_it_is_unsure(
    app: FastAPI, shop: Shop
) -> None:
    code = await shop.bob.qr_create(shop.merchant_id, "CNY")
    assert code.payload is not None
    flaky = Flaky(app, failures=2, status=503)
    async with Client(BASE_URL, transport=flaky) as client:
        await client.login("alice", PASSWORD)
        wallet = Wallet(client, pin=PIN, retry_for=5)
        paid = await wallet.pay(code.payload, "3.00")
        assert paid.replayed is False
        assert len(flaky.money_calls) == 3
        assert len(set(flaky.money_calls)) == 1  # one key, one body
        flaky.failures, flaky.money_calls = 1_000, []
        flaky.status = None
        with pytest.raises(WalletUnsure) as unsure:
            await Wallet(client, pin=PIN, retry_for=0.3).pay(
                code.payload, "4.00", idempotency_key="pay-k"
            )
        assert unsure.value.idempotency_key == "pay-k"
        flaky.failures = 0
        later = await wallet.pay(code.payload, "4.00", idempotency_key="pay-k")
        again = await wallet.pay(code.payload, "4.00", idempotency_key="pay-k")
        assert (later.replayed, again.replayed) == (False, True)
        assert later.payment_id == again.payment_id
    assert await shop.alice.balance("CNY") == Money(93_00, "CNY")
    with pytest.raises(TypeError):
        await shop.alice.pay(code.payload, 5)  # type: ignore[arg-type]


async def test_the_owner_refunds_in_parts_and_revokes_a_code(shop: Shop) -> None:
    code = await shop.bob.qr_create(shop.merchant_id, "CNY")
    assert code.payload is not None
    paid = await shop.alice.pay(code.payload, "20.00")
    first = await shop.bob.refund(paid.payment_id, "5.00")
    assert first.amount == Money(5_00, "CNY")
    assert first.payment is not None
    assert (first.payment.state, first.payment.refunded) == (
        "partially_refunded", Money(5_00, "CNY"),
    )  # fmt: skip
    with pytest.raises(ApiError) as payer:
        await shop.alice.refund(paid.payment_id, "1.00")
    assert payer.value.code == "not_merchant_owner"
    with pytest.raises(ApiError) as over:
        await shop.bob.refund(paid.payment_id, Money(15_01, "CNY"))
    assert over.value.code == "refund_exceeds_payment"
    # The fee (0.20) stays with the platform: the merchant holds 19.80 - 5.00 = 14.80.
    with pytest.raises(ApiError) as short:
        await shop.bob.refund(paid.payment_id, Money(15_00, "CNY"))
    assert short.value.code == "insufficient_funds"
    await shop.bob.refund(paid.payment_id, "14.80")
    shown = await shop.alice.payment(paid.payment_id)
    assert [r.amount for r in shown.refunds] == [Money(5_00, "CNY"), Money(14_80, "CNY")]
    assert shown.refunded == Money(19_80, "CNY")

    await shop.bob.qr_revoke(code.qr_id)
    with pytest.raises(ApiError) as revoked:
        await shop.alice.pay(code.payload, "1.00")
    assert revoked.value.code == "qr_revoked"
    (listed,) = await shop.bob.qr_list(shop.merchant_id)
    assert (listed.revoked_at is not None, listed.payload) == (True, None)
    with pytest.raises(ValueError, match="none of your merchants"):
        await shop.alice.qr_revoke(code.qr_id)
