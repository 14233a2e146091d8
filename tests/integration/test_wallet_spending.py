"""``GET /v1/wallet/spending`` against a hand-computed expectation on SQLite and PostgreSQL:
every spending kind and its reversals, income, categories spent down to nothing, the time
window, and the range and currency checks."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from courtyard.core.clock import FrozenClock
from courtyard.core.ids import new_id
from courtyard.domains.wallet import EntryDraft, Leg, audit_ledger
from tests.integration.bill_support import MOBILE, pay_bill, register_biller
from tests.integration.test_wallet_red_packets import grab, packet
from tests.integration.wallet_support import Member, direct, fund, member, transfer


@dataclass
class Scene:
    alice: Member
    bob: Member


async def merchant_entry(
    app: FastAPI, payer: Member, kind: str, category: str, amount: int
) -> None:
    """A ``payment`` or ``payment_refund`` entry on the payer's account, posted through the
    ledger: spending counts these kinds by name, whichever flow writes them. Suspense stands
    in for the merchant's account."""
    wallet = app.state.runtime.wallet
    account = await wallet.accounts.ensure_user(payer.user_id, "CNY")
    other = await wallet.accounts.ensure_system("suspense", "CNY")
    signed = -amount if kind == "payment" else amount
    legs = (Leg(account, signed), Leg(other, -signed))
    draft = EntryDraft(kind, category, legs, initiator="test", flow_kind="test", flow_id=new_id())
    async with wallet.db.transaction() as tx, wallet.ledger.book(tx) as book:
        await book.post(draft)


async def resolve(http: httpx.AsyncClient, who: Member, transfer_id: str, verb: str) -> None:
    done = await http.post(f"/v1/wallet/transfers/{transfer_id}/{verb}", headers=who.headers)
    assert done.status_code == 200, done.text


@pytest.fixture
async def scene(client: httpx.AsyncClient, app: FastAPI, clock: FrozenClock) -> Scene:
    """At 2026-01-01 00:00 Alice sends, gets back, receives, pays bills and merchants; at
    2026-01-02 00:00:01 what nobody took is refunded to her."""
    alice, bob = await member(client, "alice"), await member(client, "bob")
    conversation_id = await direct(client, alice, bob)
    await fund(app, alice.user_id, 1000_00)
    await fund(app, bob.user_id, 100_00)

    async def send(sender: Member, to: Member, amount: str) -> str:
        sent = await transfer(client, sender, to, amount)
        assert sent.status_code == 201, sent.text
        transfer_id: str = sent.json()["transfer_id"]
        return transfer_id

    await resolve(client, bob, await send(alice, bob, "100.00"), "accept")
    await resolve(client, bob, await send(alice, bob, "30.00"), "return")
    await send(alice, bob, "20.00")  # refunded after 24 hours
    await resolve(client, alice, await send(bob, alice, "15.00"), "accept")

    async def red_packet(sender: Member, to: Member, amount: str) -> str:
        sent = await packet(client, sender, conversation_id, amount, audience="person",
                            to_user_id=to.user_id)  # fmt: skip
        assert sent.status_code == 201, sent.text
        packet_id: str = sent.json()["packet_id"]
        return packet_id

    assert (await grab(client, bob, await red_packet(alice, bob, "8.88"))).status_code == 200
    await red_packet(alice, bob, "5.00")  # refunded after 24 hours
    assert (await grab(client, alice, await red_packet(bob, alice, "6.66"))).status_code == 200

    power = await register_biller(app)
    mobile = await register_biller(app, "Courtyard Mobile", "phone", pattern="^1[3-9][0-9]{9}$")
    assert (await pay_bill(client, alice, power, "50.00")).status_code == 201
    assert (await pay_bill(client, alice, mobile, "20.00", reference=MOBILE)).status_code == 201

    await merchant_entry(app, alice, "payment", "food", 40_00)
    await merchant_entry(app, alice, "payment_refund", "food", 10_00)
    await merchant_entry(app, alice, "payment", "shopping", 12_00)
    await merchant_entry(app, alice, "payment_refund", "shopping", 12_00)

    clock.advance(hours=24, seconds=1)
    while await app.state.runtime.due.run_due():
        pass
    return Scene(alice, bob)


def spent(body: dict[str, object]) -> list[tuple[str, str]]:
    categories = body["categories"]
    assert isinstance(categories, list)
    return [(c["category"], c["spent"]["amount"]) for c in categories]


async def spending(
    http: httpx.AsyncClient, who: Member, query: str = "currency=CNY"
) -> httpx.Response:
    return await http.get(f"/v1/wallet/spending?{query}", headers=who.headers)


async def test_spending_is_debits_less_reversals_per_category_and_income_apart(
    client: httpx.AsyncClient, app: FastAPI, scene: Scene
) -> None:
    answer = await spending(client, scene.alice)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # transfers: 100 + 30 + 20 sent, 30 returned, 20 refunded; red packets: 8.88 + 5.00 sent,
    # 5.00 refunded; food: 40 paid, 10 refunded; shopping: 12 paid and refunded (left out).
    assert spent(body) == [
        ("transfers", "100.00"),
        ("utilities", "50.00"),
        ("food", "30.00"),
        ("phone", "20.00"),
        ("red_packets", "8.88"),
    ]
    assert body["income"] == {"amount_minor": 2166, "currency": "CNY", "amount": "21.66"}
    assert body["currency"] == "CNY"
    assert (body["from"], body["to"]) == ("2025-12-03T00:00:02Z", "2026-01-02T00:00:02Z")
    theirs = (await spending(client, scene.bob)).json()
    assert spent(theirs) == [("transfers", "15.00"), ("red_packets", "6.66")]
    assert theirs["income"]["amount"] == "108.88"
    report = await audit_ledger(app.state.runtime.db)
    assert report.ok, report.findings


async def test_the_window_counts_only_postings_inside_it(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    first_hour = "currency=CNY&from=2026-01-01T00:00:00Z&to=2026-01-01T01:00:00Z"
    before_refunds = (await spending(client, scene.alice, first_hour)).json()
    assert spent(before_refunds) == [
        ("transfers", "120.00"),
        ("utilities", "50.00"),
        ("food", "30.00"),
        ("phone", "20.00"),
        ("red_packets", "13.88"),
    ]
    assert before_refunds["income"]["amount"] == "21.66"
    refunds_only = "currency=CNY&from=2026-01-01T01:00:00&to=2026-01-03"
    after = (await spending(client, scene.alice, refunds_only)).json()
    assert (after["categories"], after["income"]["amount"]) == ([], "0.00")
    # `to` is exclusive: a window ending at the first postings' instant holds none of them.
    empty = await spending(client, scene.alice, "currency=CNY&from=2025-12-01&to=2026-01-01")
    assert empty.json()["categories"] == []


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("currency=CNY&from=2025-01-01&to=2026-01-03", 400, "range_too_long"),
        ("currency=CNY&from=2026-01-02&to=2026-01-02", 400, "range_too_long"),
        ("currency=CNY&from=2026-01-03&to=2026-01-02", 400, "range_too_long"),
        ("currency=cny", 400, "unsupported_currency"),
        ("currency=XAU", 400, "unsupported_currency"),
        ("currency=CNY&from=yesterday", 422, "invalid_request"),
        ("from=2026-01-01", 422, "invalid_request"),
    ],
)
async def test_bad_ranges_and_currencies_are_problems(
    client: httpx.AsyncClient, scene: Scene, query: str, status: int, code: str
) -> None:
    refused = await spending(client, scene.alice, query)
    assert refused.status_code == status, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == code


async def test_366_days_is_allowed_and_an_unused_currency_spends_nothing(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    carol = await member(client, "carol")
    leap = await spending(client, carol, "currency=CNY&from=2025-01-01&to=2026-01-02")
    assert leap.status_code == 200, leap.text
    euros = (await spending(client, carol, "currency=EUR")).json()
    assert (euros["categories"], euros["income"]) == (
        [],
        {"amount_minor": 0, "currency": "EUR", "amount": "0.00"},
    )
    assert (await client.get("/v1/wallet/spending?currency=CNY")).status_code == 401
