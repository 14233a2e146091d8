"""The SDK wallet against the real app through ``httpx.ASGITransport``: balances, PIN,
transfers by username, accept and return, red packets, idempotent retries, statements, and
wallet cards in a device's local history."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from courtyard.client import ApiError, Client
from courtyard.client.crypto import KdfParams
from courtyard.client.messenger import Messenger
from courtyard.client.wallet import Wallet, WalletUnsure
from courtyard.core.ids import new_id
from courtyard.core.money import Money
from tests.client_support import consent_for
from tests.conftest import PASSWORD
from tests.integration.wallet_support import fund

BASE_URL = "http://courtyard.test"
PIN = "246810"
FAST_KDF = KdfParams(time_cost=1, memory_cost_kib=8, parallelism=1)  # tests only


@dataclass
class Party:
    client: Client
    user_id: str


class Flaky(httpx.AsyncBaseTransport):
    """Passes requests to the app, but answers the first ``failures`` money calls with
    ``status`` (or raises a transport error when ``status`` is None), recording each one."""

    def __init__(self, app: FastAPI, failures: int, status: int | None = 503) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.failures = failures
        self.status = status
        self.money_calls: list[tuple[str | None, bytes]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.startswith("/v1/wallet/"):
            body = await request.aread()
            self.money_calls.append((request.headers.get("idempotency-key"), body))
            if len(self.money_calls) <= self.failures:
                if self.status is None:
                    raise httpx.ConnectError("connection refused", request=request)
                return httpx.Response(self.status, json={"code": "unavailable", "title": "x"})
        return await self.inner.handle_async_request(request)


async def party(app: FastAPI, username: str, transport: httpx.AsyncBaseTransport) -> Party:
    client = Client(BASE_URL, transport=transport)
    session = await client.register(
        username, PASSWORD, username.title(), "DE", **await consent_for(client, "DE")
    )
    await client.wallet.set_pin(PIN, password=PASSWORD)
    client.wallet.pin = PIN
    return Party(client, session.user_id)


@pytest.fixture
async def alice_bob(app: FastAPI) -> AsyncIterator[tuple[Party, Party]]:
    """Alice (100.00 CNY) and Bob, with PINs and a direct conversation."""
    alice = await party(app, "alice", httpx.ASGITransport(app=app))
    bob = await party(app, "bob", httpx.ASGITransport(app=app))
    await fund(app, alice.user_id, 10_000)
    body = {"kind": "direct", "members": [bob.user_id]}
    await alice.client._call("POST", "/v1/conversations", json=body)
    try:
        yield alice, bob
    finally:
        await alice.client.aclose()
        await bob.client.aclose()


async def test_balance_lists_every_currency_with_limits_and_the_pin_state(
    alice_bob: tuple[Party, Party],
) -> None:
    alice, _ = alice_bob
    balances = await alice.client.wallet.balance()
    assert [(b.currency, b.balance) for b in balances] == [
        ("CNY", Money(10_000, "CNY")),
        ("EUR", Money(0, "EUR")),
        ("USD", Money(0, "USD")),
    ]
    assert balances[0].daily_limit == Money.of_major(50_000, "CNY")
    assert await alice.client.wallet.balance("CNY") == Money(10_000, "CNY")
    overview = await alice.client.wallet.overview()
    assert (overview.pin_set, overview.pin_locked_until) == (True, None)
    assert await alice.client.wallet.currencies() == {"CNY": 2, "EUR": 2, "USD": 2}


async def test_set_pin_changes_with_the_current_pin_and_refuses_weak_ones(
    alice_bob: tuple[Party, Party],
) -> None:
    wallet = alice_bob[0].client.wallet
    with pytest.raises(ApiError) as weak:
        await wallet.set_pin("123456", current_pin=PIN)
    assert weak.value.code == "weak_pin"
    await wallet.set_pin("975318", current_pin=PIN)
    with pytest.raises(ApiError) as old:
        await wallet.transfer("bob", "1.00", "CNY")
    assert old.value.code == "wrong_pin"
    transfer = await wallet.transfer("bob", "1.00", "CNY", pin="975318")
    assert transfer.state == "pending"
    with pytest.raises(ValueError, match="exactly one"):
        await wallet.set_pin("975318")


async def test_a_transfer_by_username_is_accepted_into_the_recipients_balance(
    alice_bob: tuple[Party, Party],
) -> None:
    alice, bob = alice_bob
    sent = await alice.client.wallet.transfer("bob", "10.50", "CNY")
    assert (sent.state, sent.to_user_id) == ("pending", bob.user_id)
    assert sent.amount == Money(1050, "CNY")
    assert sent.replayed is False
    assert await alice.client.wallet.balance("CNY") == Money(8_950, "CNY")
    pending = await bob.client.wallet.transfers(role="received", state="pending")
    assert [t.transfer_id for t in pending] == [sent.transfer_id]

    accepted = await bob.client.wallet.accept(sent.transfer_id)
    assert accepted.state == "accepted"
    assert accepted.resolved_at is not None
    assert await bob.client.wallet.balance("CNY") == Money(1050, "CNY")
    again = await bob.client.wallet.accept(sent.transfer_id)
    assert (again.state, again.replayed) == ("accepted", True)
    assert (await alice.client.wallet.get_transfer(sent.transfer_id)).state == "accepted"
    assert await bob.client.wallet.balance("CNY") == Money(1050, "CNY")


async def test_a_returned_transfer_comes_back_to_the_sender(
    alice_bob: tuple[Party, Party],
) -> None:
    alice, bob = alice_bob
    sent = await alice.client.wallet.transfer(bob.user_id, Money(3_000, "CNY"), "CNY")
    returned = await bob.client.wallet.return_transfer(sent.transfer_id)
    assert returned.state == "returned"
    assert await alice.client.wallet.balance("CNY") == Money(10_000, "CNY")
    with pytest.raises(ApiError) as late:
        await bob.client.wallet.accept(sent.transfer_id)
    assert late.value.code == "transfer_not_pending"
    assert [t.state for t in await alice.client.wallet.transfers(role="sent")] == ["returned"]


async def test_a_repeat_with_the_same_key_returns_the_same_transfer(
    alice_bob: tuple[Party, Party],
) -> None:
    alice, _ = alice_bob
    key = new_id()
    first = await alice.client.wallet.transfer("bob", "5.00", "CNY", idempotency_key=key)
    second = await alice.client.wallet.transfer("bob", "5.00", "CNY", idempotency_key=key)
    assert second.transfer_id == first.transfer_id
    assert (first.replayed, second.replayed) == (False, True)
    assert await alice.client.wallet.balance("CNY") == Money(9_500, "CNY")
    with pytest.raises(ApiError) as changed:
        await alice.client.wallet.transfer("bob", "6.00", "CNY", idempotency_key=key)
    assert changed.value.code == "idempotency_key_reused"


@pytest.mark.parametrize("amount", [10, 10.5, Decimal("10.50"), True])
async def test_numbers_are_refused_as_amounts_before_anything_is_sent(
    alice_bob: tuple[Party, Party], amount: object
) -> None:
    alice, _ = alice_bob
    with pytest.raises(TypeError, match="decimal string"):
        await alice.client.wallet.transfer("bob", amount, "CNY")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="in EUR, not CNY"):
        await alice.client.wallet.transfer("bob", Money(100, "EUR"), "CNY")
    assert await alice.client.wallet.balance("CNY") == Money(10_000, "CNY")


async def test_a_transfer_needs_a_pin_from_the_wallet_or_a_callable(
    alice_bob: tuple[Party, Party],
) -> None:
    alice, _ = alice_bob
    asked: list[bool] = []

    async def prompt() -> str:
        asked.append(True)
        return PIN

    wallet = Wallet(alice.client)
    with pytest.raises(ValueError, match="needs the payment PIN"):
        await wallet.transfer("bob", "1.00", "CNY")
    wallet.pin = prompt
    assert (await wallet.transfer("bob", "1.00", "CNY")).state == "pending"
    assert asked == [True]


async def test_5xx_answers_are_retried_with_the_same_key_and_body_and_move_money_once(
    app: FastAPI, alice_bob: tuple[Party, Party]
) -> None:
    _, bob = alice_bob
    flaky = Flaky(app, failures=2, status=503)
    async with Client(BASE_URL, transport=flaky) as client:
        await client.login("alice", PASSWORD)
        wallet = Wallet(client, pin=PIN, retry_for=5)
        sent = await wallet.transfer(bob.user_id, "2.00", "CNY")
        assert sent.replayed is False
        assert len(flaky.money_calls) == 3
        assert len(set(flaky.money_calls)) == 1
        assert json.loads(flaky.money_calls[0][1])["to_user_id"] == bob.user_id
        assert await wallet.balance("CNY") == Money(9_800, "CNY")


async def test_no_answer_within_retry_for_raises_wallet_unsure_with_the_key(
    app: FastAPI, alice_bob: tuple[Party, Party]
) -> None:
    flaky = Flaky(app, failures=1_000, status=None)
    async with Client(BASE_URL, transport=flaky) as client:
        await client.login("alice", PASSWORD)
        wallet = Wallet(client, pin=PIN, retry_for=0.7)
        with pytest.raises(WalletUnsure) as unsure:
            await wallet.transfer("bob", "2.00", "CNY", idempotency_key="k-123")
        assert unsure.value.idempotency_key == "k-123"
        assert len(flaky.money_calls) == 3  # at 0, 0.2 and 0.6 s; 1.4 s is past 0.7 s
        assert {key for key, _ in flaky.money_calls} == {"k-123"}
        # Nothing moved; the same key later, with the server back, makes the transfer once.
        flaky.failures = 0
        later = await wallet.transfer("bob", "2.00", "CNY", idempotency_key="k-123")
        assert later.replayed is False
        assert await wallet.balance("CNY") == Money(9_800, "CNY")


async def test_4xx_answers_are_not_retried(app: FastAPI, alice_bob: tuple[Party, Party]) -> None:
    flaky = Flaky(app, failures=0)
    async with Client(BASE_URL, transport=flaky) as client:
        await client.login("alice", PASSWORD)
        with pytest.raises(ApiError) as poor:
            await Wallet(client, pin=PIN).transfer("bob", "500.00", "CNY")
        assert poor.value.code == "insufficient_funds"
        assert len(flaky.money_calls) == 1


async def test_the_statement_comes_as_lines_and_as_csv(alice_bob: tuple[Party, Party]) -> None:
    alice, bob = alice_bob
    await alice.client.wallet.transfer("bob", "7.25", "CNY")
    statement = await alice.client.wallet.statement("CNY")
    assert statement.currency == "CNY"
    assert [line.kind for line in statement.lines] == ["transfer_send", "topup"]
    first = statement.lines[0]
    assert (first.amount, first.balance_after) == (Money(-725, "CNY"), Money(9_275, "CNY"))
    assert (first.counterparty_kind, first.counterparty_id) == ("user", bob.user_id)
    assert (first.counterparty_name, first.flow_kind) == ("Bob", "transfer")
    assert statement.next_cursor is None
    paged = await alice.client.wallet.statement("CNY", limit=1)
    assert len(paged.lines) == 1
    assert paged.next_cursor is not None
    rest = await alice.client.wallet.statement("CNY", cursor=paged.next_cursor)
    assert [line.kind for line in rest.lines] == ["topup"]

    csv = await alice.client.wallet.statement("CNY", format="csv")
    rows = csv.strip().split("\r\n")
    assert rows[0].startswith("posted_at,entry_id,kind")
    assert ",Bob,-7.25,CNY,92.75,transfer," in rows[1]


async def test_topups_start_an_operation_that_can_be_read_back(
    app: FastAPI, alice_bob: tuple[Party, Party]
) -> None:
    alice, _ = alice_bob
    operation = await alice.client.wallet.topup("20.00", "EUR")
    assert (operation.kind, operation.amount) == ("topup", Money(2_000, "EUR"))
    again = await alice.client.wallet.operation(operation.operation_id)
    assert again.operation_id == operation.operation_id


# --- red packets, and the direct conversation a transfer needs ------------------------------


async def direct_id(alice: Party, bob: Party) -> str:
    body = {"kind": "direct", "members": [bob.user_id]}
    conversation_id: str = (await alice.client._call("POST", "/v1/conversations", json=body))[
        "conversation_id"
    ]
    return conversation_id


async def group_of(owner: Party, others: list[Party]) -> str:
    body = {"kind": "group", "members": [p.user_id for p in others]}
    conversation_id: str = (await owner.client._call("POST", "/v1/conversations", json=body))[
        "conversation_id"
    ]
    for other in others:
        await other.client._call("POST", f"/v1/conversations/{conversation_id}/join")
    return conversation_id


async def test_a_transfer_starts_the_direct_conversation_when_there_is_none(
    app: FastAPI, alice_bob: tuple[Party, Party]
) -> None:
    alice, _ = alice_bob
    carol = await party(app, "carol", httpx.ASGITransport(app=app))
    try:
        sent = await alice.client.wallet.transfer("carol", "4.00", "CNY")
        again = await alice.client.wallet.transfer(carol.user_id, "1.00", "CNY")
        listed = await alice.client._call("GET", "/v1/conversations")
        with_carol = [
            c["conversation_id"]
            for c in listed
            if c["kind"] == "direct" and carol.user_id in {m["user_id"] for m in c["members"]}
        ]
        assert with_carol == [sent.conversation_id]
        assert again.conversation_id == sent.conversation_id
        # The wallet's own refusals still come through, not the chat's.
        with pytest.raises(ApiError) as self_transfer:
            await alice.client.wallet.transfer(alice.user_id, "1.00", "CNY")
        assert self_transfer.value.code == "self_transfer"
        with pytest.raises(ApiError) as nobody:
            await alice.client.wallet.transfer(
                "01900000-0000-7000-8000-000000000000", "1.00", "CNY"
            )
        assert nobody.value.code == "recipient_not_found"
    finally:
        await carol.client.aclose()


async def test_a_red_packet_in_a_direct_chat_is_for_the_other_member_once(
    alice_bob: tuple[Party, Party],
) -> None:
    alice, bob = alice_bob
    conversation_id = await direct_id(alice, bob)
    packet = await alice.client.wallet.red_packet(conversation_id, "8.88", "CNY")
    assert (packet.audience, packet.to_user_id, packet.share_count) == ("person", bob.user_id, 1)
    assert (packet.state, packet.total, packet.replayed) == ("open", Money(888, "CNY"), False)
    assert await alice.client.wallet.balance("CNY") == Money(10_000 - 888, "CNY")

    with pytest.raises(ApiError) as own:
        await alice.client.wallet.grab(packet.packet_id)
    assert own.value.code == "not_eligible"
    got = await bob.client.wallet.grab(packet.packet_id)
    assert (got.amount, got.share_no, got.replayed) == (Money(888, "CNY"), 1, False)
    again = await bob.client.wallet.grab(packet.packet_id)
    assert (again.amount, again.replayed) == (Money(888, "CNY"), True)
    assert await bob.client.wallet.balance("CNY") == Money(888, "CNY")

    seen = await bob.client.wallet.get_red_packet(packet.packet_id)
    assert (seen.remaining_count, seen.total) == (0, Money(888, "CNY"))
    assert [(g.user_id, g.amount) for g in seen.grabs] == [(bob.user_id, Money(888, "CNY"))]


async def test_group_packets_split_fixed_or_random_and_run_out(
    app: FastAPI, alice_bob: tuple[Party, Party]
) -> None:
    alice, bob = alice_bob
    carol = await party(app, "carol", httpx.ASGITransport(app=app))
    try:
        group = await group_of(alice, [bob, carol])
        fixed = await alice.client.wallet.red_packet(group, "2.50", "CNY", 2, "fixed")
        assert (fixed.audience, fixed.total) == ("group", Money(500, "CNY"))
        shares = [await p.client.wallet.grab(fixed.packet_id) for p in (bob, carol)]
        assert [s.amount for s in shares] == [Money(250, "CNY")] * 2
        with pytest.raises(ApiError) as late:
            await alice.client.wallet.grab(fixed.packet_id)
        assert late.value.code == "red_packet_empty"

        random = await alice.client.wallet.red_packet(group, Money(1_000, "CNY"), "CNY", count=3)
        got = [await p.client.wallet.grab(random.packet_id) for p in (alice, bob, carol)]
        assert sum(g.amount.amount_minor for g in got) == 1_000
        assert min(g.amount.amount_minor for g in got) >= 1

        only_bob = await alice.client.wallet.red_packet(group, "1.00", "CNY", to="bob")
        assert (only_bob.audience, only_bob.to_user_id) == ("person", bob.user_id)
        with pytest.raises(ApiError) as not_carol:
            await carol.client.wallet.grab(only_bob.packet_id)
        assert not_carol.value.code == "not_eligible"
    finally:
        await carol.client.aclose()


async def test_red_packet_arguments_are_checked_before_anything_is_sent(
    alice_bob: tuple[Party, Party],
) -> None:
    alice, bob = alice_bob
    conversation_id = await direct_id(alice, bob)
    wallet = alice.client.wallet
    with pytest.raises(ValueError, match="split must be"):
        await wallet.red_packet(conversation_id, "1.00", "CNY", split="even")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="count must be an int"):
        await wallet.red_packet(conversation_id, "1.00", "CNY", count=True)
    with pytest.raises(TypeError, match="decimal string"):
        await wallet.red_packet(conversation_id, 1, "CNY")  # type: ignore[arg-type]
    assert await wallet.balance("CNY") == Money(10_000, "CNY")


async def test_a_red_packet_is_retried_with_the_same_key_and_made_once(
    app: FastAPI, alice_bob: tuple[Party, Party]
) -> None:
    alice, bob = alice_bob
    conversation_id = await direct_id(alice, bob)
    flaky = Flaky(app, failures=2, status=503)
    async with Client(BASE_URL, transport=flaky) as client:
        await client.login("alice", PASSWORD)
        wallet = Wallet(client, pin=PIN, retry_for=5)
        packet = await wallet.red_packet(conversation_id, "3.00", "CNY", to=bob.user_id)
        assert packet.replayed is False
        assert len(flaky.money_calls) == 3
        assert len(set(flaky.money_calls)) == 1
        assert await wallet.balance("CNY") == Money(9_700, "CNY")
        # A grab needs no key: the same request again is answered with the same share.
        flaky.failures, flaky.money_calls = 1, []
        async with Client(BASE_URL, transport=flaky) as bobs:
            await bobs.login("bob", PASSWORD)
            got = await Wallet(bobs, retry_for=5).grab(packet.packet_id)
        assert got.amount == Money(300, "CNY")
        assert [key for key, _ in flaky.money_calls] == [None, None]


async def test_wallet_cards_are_kept_in_local_history_with_their_newest_state(
    alice_bob: tuple[Party, Party], tmp_path: Path
) -> None:
    alice, bob = alice_bob
    conversation_id = await direct_id(alice, bob)
    async with (
        await Messenger.open(alice.client, tmp_path / "alice", "a", kdf=FAST_KDF) as mine,
        await Messenger.open(bob.client, tmp_path / "bob", "b", kdf=FAST_KDF) as theirs,
    ):
        sent = await alice.client.wallet.transfer("bob", "10.50", "CNY")
        shown = await theirs.sync()
        assert [m.type for m in shown] == ["m.wallet.transfer"]
        card = shown[0].card
        assert card is not None
        assert (card.content["transfer_id"], card.content["state"]) == (sent.transfer_id, "pending")
        assert shown[0].body == "[Transfer] 10.50 CNY, pending"
        assert shown[0].sender_user_id == alice.user_id

        await bob.client.wallet.accept(sent.transfer_id)
        await theirs.sync()
        cards = [m for m in theirs.messages(conversation_id) if m.card]
        assert len(cards) == 1  # one card per transfer, showing its newest state
        assert cards[0].card is not None
        assert cards[0].card.content["state"] == "accepted"
        assert cards[0].event_id == shown[0].event_id

        packet = await alice.client.wallet.red_packet(conversation_id, "8.88", "CNY")
        await theirs.sync()
        await bob.client.wallet.grab(packet.packet_id)
        await theirs.sync()
        await mine.sync()
        bobs = theirs.messages(conversation_id)[-1]
        assert bobs.type == "m.wallet.red_packet"
        assert bobs.card is not None
        assert "8.88" not in str(bobs.card.content)  # the card never tells the amount
        assert bobs.card.notes == {"remaining": 0, "outcome": "got", "amount": "8.88 CNY"}
        alices = mine.messages(conversation_id)[-1]
        assert alices.card is not None
        assert alices.card.notes == {"remaining": 0}
        assert [m.type for m in mine.messages(conversation_id)] == [
            "m.wallet.transfer", "m.wallet.red_packet",
        ]  # fmt: skip


async def test_a_malformed_card_from_the_server_is_recorded_as_failed_not_shown(
    alice_bob: tuple[Party, Party], tmp_path: Path
) -> None:
    alice, _ = alice_bob
    async with await Messenger.open(alice.client, tmp_path / "a", "a", kdf=FAST_KDF) as mine:
        event_id, conversation_id = new_id(), new_id()
        event: dict[str, Any] = {
            "event_id": event_id, "conversation_id": conversation_id, "seq": 1,
            "type": "m.wallet.transfer", "sender_user_id": alice.user_id,
            "sender_device_id": None, "created_at": "2025-01-01T00:00:00Z",
            "content": {"transfer_id": "t-1", "state": "pending", "amount": {"amount_minor": 1.5}},
        }  # fmt: skip
        assert await mine.inbox.timeline(event) == []
        assert mine.history.is_processed(event_id)
        assert mine.messages(conversation_id) == []
