"""The sandbox provider's reconciliation report: one UTC day's settlements and the balance
per currency, behind the API key, its body signed with the callback secret; the typed client
reads it and the wallet's adapter refuses one that is not signed with our secret."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from courtyard.core.callback_signatures import SIGNATURE_HEADER, BadSignature, verify
from courtyard.core.clock import FrozenClock
from courtyard.domains.wallet.errors import ProviderRefused
from courtyard.domains.wallet.providers import SandboxProvider, SettlementLine
from tests.integration.test_sandbox_provider import (
    API_KEY,
    BASE_URL,
    CALLBACK_URL,
    SECRET,
    Harness,
    Receiver,
    running,
)

DAY = dt.date(2026, 1, 1)


@pytest.fixture
async def sbx(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running(tmp_path / "sandbox-provider.db", FrozenClock(), Receiver()) as harness:
        yield harness


async def a_day_of_operations(sbx: Harness) -> None:
    """On 2026-01-01: a charge and a payout succeed, a charge fails, one stays pending; on
    2026-01-02 another charge succeeds."""
    await sbx.charge("c-1", 10_000, "EUR")
    await sbx.client.create_payout("p-1", 2_500, "EUR", CALLBACK_URL, destination="acct_1")
    await sbx.charge("c-2", 999, "USD", behaviour={"outcome": "fail"})
    await sbx.charge("c-3", 50, "EUR", behaviour={"outcome": "never"})
    await sbx.sandbox.settle_due()
    sbx.clock.advance(days=1)
    await sbx.charge("c-4", 700, "USD")
    await sbx.sandbox.settle_due()


def adapter(
    sbx: Harness, secret: str = SECRET, api_key: str = API_KEY, clock: FrozenClock | None = None
) -> SandboxProvider:
    """The wallet's adapter for this sandbox, with the wallet's own clock."""
    return SandboxProvider(
        BASE_URL,
        api_key,
        secret.encode(),
        clock or sbx.clock,
        transport=httpx.ASGITransport(app=sbx.app),
    )


async def test_the_report_lists_the_days_settlements_and_the_balance_now(sbx: Harness) -> None:
    await a_day_of_operations(sbx)
    report = await sbx.client.report(DAY)
    assert report.day == DAY
    assert report.generated_at == sbx.clock.now()
    assert [(o.operation_id, o.kind, o.status, o.amount_minor, o.currency)
            for o in report.operations] == [
        ("c-1", "charge", "succeeded", 10_000, "EUR"),  # settled at once: by id
        ("c-2", "charge", "failed", 999, "USD"),
        ("p-1", "payout", "succeeded", 2_500, "EUR"),
    ]  # fmt: skip
    assert all(o.settled_at.date() == DAY and o.provider_ref.startswith("sbx_")
               for o in report.operations)  # fmt: skip
    assert report.balances == {"EUR": 7_500, "USD": 700}
    next_day = await sbx.client.report(DAY + dt.timedelta(days=1))
    assert [o.operation_id for o in next_day.operations] == ["c-4"]


async def test_the_report_body_is_signed_with_the_callback_secret(sbx: Harness) -> None:
    await a_day_of_operations(sbx)
    response = await sbx.http.get(
        "/report", params={"day": "2026-01-01"}, headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert response.status_code == 200
    signature = response.headers[SIGNATURE_HEADER]
    verify(SECRET.encode(), signature, response.content, sbx.now())
    tampered = response.content.replace(b"7500", b"9500")
    assert tampered != response.content
    with pytest.raises(BadSignature, match="does not match"):
        verify(SECRET.encode(), signature, tampered, sbx.now())
    anonymous = await sbx.http.get("/report", params={"day": "2026-01-01"})
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "invalid_api_key")
    malformed = await sbx.http.get(
        "/report", params={"day": "yesterday"}, headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert malformed.status_code == 422


async def test_the_wallet_adapter_reads_a_signed_report_and_refuses_another(
    sbx: Harness,
) -> None:
    await a_day_of_operations(sbx)
    provider = adapter(sbx)
    try:
        report = await provider.report(DAY)
    finally:
        await provider.aclose()
    assert report.balances == {"EUR": 7_500, "USD": 700}
    assert report.lines[0] == SettlementLine(
        "c-1", report.lines[0].provider_ref, "charge", 10_000, "EUR", "succeeded"
    )
    assert [line.status for line in report.lines] == ["succeeded", "failed", "succeeded"]

    impostor = adapter(sbx, secret="another-secret-of-at-least-32-bytes!")
    with pytest.raises(BadSignature):
        await impostor.report(DAY)
    await impostor.aclose()
    no_key = adapter(sbx, api_key="wrong")
    with pytest.raises(ProviderRefused) as refused:
        await no_key.report(DAY)
    assert refused.value.extra["http_status"] == 401
    await no_key.aclose()


async def test_a_stale_report_is_refused(sbx: Harness) -> None:
    """A report replayed (or held back) for more than five minutes is not believed."""
    late = FrozenClock(sbx.clock.now() + dt.timedelta(seconds=301))
    provider = adapter(sbx, clock=late)  # the wallet's clock, ahead of the provider's
    with pytest.raises(BadSignature, match="tolerance"):
        await provider.report(DAY)
    await provider.aclose()
