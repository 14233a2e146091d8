"""The ledger core on SQLite and PostgreSQL: balanced entries, cached balances under row
locks, refusals that write nothing, append-only entries and postings enforced by the
database, and an audit that finds a planted corruption."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from courtyard.core.clock import FrozenClock
from courtyard.db import Database
from courtyard.domains.wallet import (
    AccountDirectory,
    AccountFrozen,
    AccountRef,
    DailyLimitExceeded,
    EntryDraft,
    InsufficientFunds,
    Ledger,
    Leg,
    UnbalancedEntry,
    audit_ledger,
)
from courtyard.domains.wallet.models import LedgerAccount, LedgerPosting
from courtyard.streams import MemoryBus, StreamStore
from courtyard.streams.events import StreamEvent


@dataclass
class Bank:
    db: Database
    ledger: Ledger
    accounts: AccountDirectory
    clearing: AccountRef


@pytest.fixture
async def bank(database_url: str, clock: FrozenClock) -> AsyncIterator[Bank]:
    db = Database(database_url)
    streams = StreamStore(MemoryBus(), clock)
    accounts = AccountDirectory(db, clock)
    clearing = await accounts.ensure_system("provider_clearing", "CNY", "sandbox")
    try:
        yield Bank(db, Ledger(clock, streams), accounts, clearing)
    finally:
        await db.dispose()


async def user(bank: Bank, user_id: str, currency: str = "CNY") -> AccountRef:
    """A user's main account with a stream (balance events go there)."""
    async with bank.db.transaction() as tx:
        await bank.ledger.streams.create_stream(tx, user_id)
    return await bank.accounts.ensure_user(user_id, currency)


async def top_up(bank: Bank, account: AccountRef, amount: int) -> None:
    draft = EntryDraft(
        "topup",
        "topup",
        (Leg(account, amount), Leg(bank.clearing, -amount)),
        initiator="test",
    )
    async with bank.db.transaction() as tx, bank.ledger.book(tx) as book:
        await book.post(draft)


async def move(bank: Bank, src: AccountRef, dst: AccountRef, amount: int, **leg: int) -> None:
    draft = EntryDraft(
        "adjustment",
        "adjustment",
        (Leg(src, -amount, **leg), Leg(dst, amount)),
        initiator="test",
    )
    async with bank.db.transaction() as tx, bank.ledger.book(tx) as book:
        await book.post(draft)


async def balances(bank: Bank) -> dict[str, int | None]:
    async with bank.db.read() as session:
        rows = await session.execute(select(LedgerAccount.account_id, LedgerAccount.balance_minor))
        return dict(rows.all())


async def test_a_posting_moves_the_cached_balance_and_tells_the_owner(bank: Bank) -> None:
    alice = await user(bank, "alice")
    await top_up(bank, alice, 10_000)
    async with bank.db.read() as session:
        account = await session.get(LedgerAccount, alice.account_id)
        posting = await session.scalar(
            select(LedgerPosting).where(LedgerPosting.account_id == alice.account_id)
        )
        event = await session.scalar(select(StreamEvent).where(StreamEvent.user_id == "alice"))
    assert account is not None
    assert posting is not None
    assert event is not None
    assert account.balance_minor == posting.balance_after == 10_000
    assert account.last_entry_id == posting.entry_id
    assert event.type == "wallet.balance"
    assert event.content["balance"] == {
        "amount_minor": 10_000,
        "currency": "CNY",
        "amount": "100.00",
    }
    assert (await audit_ledger(bank.db)).ok


async def test_an_overdraft_is_refused_and_writes_nothing(bank: Bank) -> None:
    alice, bob = await user(bank, "alice"), await user(bank, "bob")
    await top_up(bank, alice, 500)
    before = await balances(bank)
    with pytest.raises(InsufficientFunds):
        await move(bank, alice, bob, 501)
    assert await balances(bank) == before
    report = await audit_ledger(bank.db)
    assert report.ok
    assert report.entries == 1


async def test_unbalanced_or_empty_drafts_are_refused_before_any_write(bank: Bank) -> None:
    alice = await user(bank, "alice")
    eur = await bank.accounts.ensure_system("provider_clearing", "EUR", "sandbox")
    drafts = [
        (Leg(alice, 100), Leg(bank.clearing, -99)),
        (Leg(alice, 100),),
        (Leg(alice, 100), Leg(bank.clearing, -100), Leg(eur, 0)),
        (Leg(alice, 100), Leg(eur, -100)),
    ]
    for legs in drafts:
        with pytest.raises(UnbalancedEntry):
            async with bank.db.transaction() as tx, bank.ledger.book(tx) as book:
                await book.post(EntryDraft("topup", "topup", legs, initiator="test"))
    assert (await audit_ledger(bank.db)).entries == 0


async def test_the_daily_limit_counts_debits_and_turns_at_midnight_utc(
    bank: Bank, clock: FrozenClock
) -> None:
    alice, bob = await user(bank, "alice"), await user(bank, "bob")
    await top_up(bank, alice, 10_000)
    await move(bank, alice, bob, 600, daily_limit_minor=1_000)
    with pytest.raises(DailyLimitExceeded) as refused:
        await move(bank, alice, bob, 401, daily_limit_minor=1_000)
    assert refused.value.extra["used"]["amount_minor"] == 600
    await move(bank, alice, bob, 400, daily_limit_minor=1_000)
    clock.advance(days=1)
    await move(bank, alice, bob, 1_000, daily_limit_minor=1_000)
    assert (await balances(bank))[alice.account_id] == 8_000


async def test_a_frozen_account_cannot_pay_but_can_receive(bank: Bank) -> None:
    alice, bob = await user(bank, "alice"), await user(bank, "bob")
    await top_up(bank, alice, 1_000)
    async with bank.db.transaction() as tx:
        await tx.session.execute(
            text("UPDATE ledger_accounts SET status = 'frozen' WHERE account_id = :a"),
            {"a": alice.account_id},
        )
    with pytest.raises(AccountFrozen):
        await move(bank, alice, bob, 100)
    await top_up(bank, alice, 100)
    assert (await balances(bank))[alice.account_id] == 1_100


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_postings SET amount_minor = amount_minor + 1",
        "DELETE FROM ledger_postings",
        "UPDATE ledger_entries SET kind = 'payment'",
        "DELETE FROM ledger_entries",
    ],
)
async def test_entries_and_postings_are_append_only_in_the_database(
    bank: Bank, statement: str
) -> None:
    await top_up(bank, await user(bank, "alice"), 100)
    with pytest.raises(DBAPIError, match="append-only"):
        async with bank.db.transaction() as tx:
            await tx.session.execute(text(statement))
    assert (await audit_ledger(bank.db)).postings == 2


async def test_the_database_refuses_a_negative_cached_balance_and_a_foreign_currency(
    bank: Bank,
) -> None:
    alice = await user(bank, "alice")
    with pytest.raises(IntegrityError):
        async with bank.db.transaction() as tx:
            await tx.session.execute(
                text("UPDATE ledger_accounts SET balance_minor = -1 WHERE account_id = :a"),
                {"a": alice.account_id},
            )
    with pytest.raises(IntegrityError):
        async with bank.db.transaction() as tx:
            await tx.session.execute(
                text(
                    "INSERT INTO ledger_postings (account_id, entry_id, leg, currency, "
                    "amount_minor, created_at) VALUES (:a, 'e', 0, 'EUR', 5, CURRENT_TIMESTAMP)"
                ),
                {"a": alice.account_id},
            )


async def test_the_audit_finds_planted_corruption(bank: Bank) -> None:
    """A corrupted database, simulated by writing rows behind the ledger's back."""
    alice = await user(bank, "alice")
    await top_up(bank, alice, 1_000)
    async with bank.db.transaction() as tx:
        await tx.session.execute(
            text("UPDATE ledger_accounts SET balance_minor = 5000 WHERE account_id = :a"),
            {"a": alice.account_id},
        )
        await tx.session.execute(
            text(
                "INSERT INTO ledger_postings (account_id, entry_id, leg, currency, "
                "amount_minor, created_at) VALUES (:a, 'forged', 0, 'CNY', 7, CURRENT_TIMESTAMP)"
            ),
            {"a": alice.account_id},
        )
    checks = {finding.check for finding in (await audit_ledger(bank.db)).findings}
    assert checks == {
        "entry_balanced",
        "posting_has_entry",
        "ledger_sums_to_zero",
        "cached_equals_derived",
    }


async def test_concurrent_random_movements_keep_the_books_exact(bank: Bank) -> None:
    """200 movements between 6 accounts from 20 tasks: nothing lost, nothing negative."""
    people = [await user(bank, f"user{i}") for i in range(6)]
    for account in people:
        await top_up(bank, account, 1_000)
    rng = random.Random(7)
    refused = 0

    async def worker() -> None:
        nonlocal refused
        for _ in range(10):
            src, dst = rng.sample(people, 2)
            try:
                await move(bank, src, dst, rng.randint(1, 400))
            except InsufficientFunds:
                refused += 1

    await asyncio.gather(*(worker() for _ in range(20)))
    after = await balances(bank)
    assert sum(after[p.account_id] or 0 for p in people) == 6_000
    assert all((after[p.account_id] or 0) >= 0 for p in people)
    report = await audit_ledger(bank.db)
    assert report.ok, report.findings
    assert report.entries == 6 + 200 - refused


def test_the_audit_command_reports_ok_and_then_a_planted_finding(database_url: str) -> None:
    from typer.testing import CliRunner

    from courtyard.cli.main import app as cli
    from tests.integration.operator_cli_support import cli_operator

    runner = CliRunner(env=asyncio.run(cli_operator(database_url)))
    clean = runner.invoke(cli, ["admin", "wallet", "audit", "--db", database_url])
    assert clean.exit_code == 0, clean.output
    assert "ok" in clean.output

    async def corrupt() -> None:
        """A cached balance changed behind the ledger's back (a corrupted database)."""
        db = Database(database_url)
        account = await AccountDirectory(db, FrozenClock()).ensure_user("mallory", "CNY")
        async with db.transaction() as tx:
            await tx.session.execute(
                text("UPDATE ledger_accounts SET balance_minor = 5 WHERE account_id = :a"),
                {"a": account.account_id},
            )
        await db.dispose()

    asyncio.run(corrupt())
    # --full: the corrupted account has no postings, so no incremental window touches it.
    found = runner.invoke(
        cli, ["admin", "wallet", "audit", "--full", "--json", "--db", database_url]
    )
    assert found.exit_code == 1, found.output
    assert '"check": "cached_equals_derived"' in found.output
