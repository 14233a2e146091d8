"""Helpers for the operator console's tests: operators, a browser-like client each (its own
cookie jar), sign-in through the form, and the CSRF token a page carries."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from courtyard.core.clock import FrozenClock
from courtyard.core.ids import new_id
from courtyard.domains.accounts import OperatorActionRecord, OperatorActionsLog
from courtyard.domains.jobs import MAX_ATTEMPTS, schedule
from courtyard.domains.wallet import EntryDraft, Leg
from tests.conftest import PASSWORD
from tests.integration.bill_support import register_biller
from tests.integration.merchant_support import register_merchant
from tests.integration.wallet_support import Member, direct, member, transfer

LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')
CSRF_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
ROLES = ("admin", "finance", "support", "legal_reviewer", "legal_approver")


@dataclass
class Operator:
    """A signed-in console: ``http`` keeps the session cookie, ``csrf`` its form token."""

    username: str
    http: httpx.AsyncClient
    csrf: str

    async def post(self, path: str, **data: str) -> httpx.Response:
        return await self.http.post(path, data={"csrf_token": self.csrf, **data})


def browser(app: FastAPI, base_url: str = "http://courtyard.test") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


async def create_operator(app: FastAPI, username: str, *roles: str) -> None:
    await app.state.runtime.operators.do_create_operator(username, PASSWORD, list(roles))


async def submit_login(
    http: httpx.AsyncClient, username: str, password: str = PASSWORD, next_path: str = ""
) -> httpx.Response:
    """Open the sign-in page and send its form, as a browser would."""
    page = await http.get("/admin/login")
    assert page.status_code == 200, page.text
    token = LOGIN_TOKEN.search(page.text)
    assert token is not None
    form = {"username": username, "password": password, "login_token": token.group(1)}
    return await http.post("/admin/login", data={**form, "next": next_path})


def csrf_of(page: httpx.Response) -> str:
    found = CSRF_TOKEN.search(page.text)
    assert found is not None, page.text
    return found.group(1)


async def signed_in(http: httpx.AsyncClient, username: str) -> Operator:
    answer = await submit_login(http, username)
    assert answer.status_code == 303, answer.text
    home = await http.get("/admin/")
    assert home.status_code == 200, home.text
    return Operator(username, http, csrf_of(home))


OperatorFactory = Callable[..., Awaitable[Operator]]


async def operator_factory(app: FastAPI) -> AsyncIterator[OperatorFactory]:
    """``await make("olga", "finance")``: create the operator and sign in a browser of theirs."""
    async with AsyncExitStack() as stack:

        async def make(username: str, *roles: str) -> Operator:
            await create_operator(app, username, *roles)
            http = await stack.enter_async_context(browser(app))
            return await signed_in(http, username)

        yield make


async def actions(
    app: FastAPI, *, operator: str | None = None, target: str | None = None
) -> list[OperatorActionRecord]:
    """What operators did (in the console or on the host), newest first: the audit log
    without the entries of the system, members and mini-apps."""
    log = OperatorActionsLog(app.state.runtime.db)
    found = await log.get_latest(operator=operator, target=target, limit=500)
    return [a for a in found if a.actor.startswith(("operator:", "cli"))]


@dataclass
class World:
    """Alice's CNY account with a 100.00 top-up entry and a pending 10.00 transfer to Bob,
    and a due job that failed for good."""

    alice: Member
    bob: Member
    account_id: str
    entry_id: str
    transfer_id: str
    job_id: str


async def make_world(app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock) -> World:
    """Build the world through services and the API. The failing job comes first: making it
    fail 20 times moves the clock on by hours, which must not expire the transfer."""
    runtime = app.state.runtime
    job_id = "test.unknown_kind:r1"  # no node has a handler: it fails, then fails for good
    async with runtime.db.transaction() as tx:
        await schedule(tx, "test.unknown_kind", "r1", clock.now(), now=clock.now())
    for _ in range(MAX_ATTEMPTS + 5):
        await runtime.due.run_due()
        clock.advance(hours=1)
        if (await runtime.due.get_job(job_id)).state == "failed":
            break
    assert (await runtime.due.get_job(job_id)).state == "failed"

    alice, bob = await member(client, "alice"), await member(client, "bob")
    entry_id = await top_up(app, alice.user_id, 100_00)
    await direct(client, alice, bob)
    sent = await transfer(client, alice, bob, "10.00")
    assert sent.status_code == 201, sent.text
    account = await runtime.wallet.accounts.existing_user(alice.user_id, "CNY")
    return World(alice, bob, account.account_id, entry_id, sent.json()["transfer_id"], job_id)


async def top_up(app: FastAPI, user_id: str, amount_minor: int) -> str:
    """Credit a user as a settled top-up would; returns the entry id."""
    wallet = app.state.runtime.wallet
    account = await wallet.accounts.ensure_user(user_id, "CNY")
    clearing = await wallet.accounts.ensure_system("provider_clearing", "CNY", "sandbox")
    draft = EntryDraft(
        "topup", "topup", (Leg(account, amount_minor), Leg(clearing, -amount_minor)),
        initiator="test", flow_kind="test", flow_id=new_id(),
    )  # fmt: skip
    async with wallet.db.transaction() as tx, wallet.ledger.book(tx) as book:
        posted = await book.post(draft)
    entry_id: str = posted.entry_id
    return entry_id


@dataclass
class Oversight:
    """What the oversight pages show, on top of a ``World``: a reconciliation run whose item
    1 is an open ``balance`` exception (the world's top-up never reached the provider), a
    recorded full audit, a merchant run by alice and a biller."""

    reconciliation_run_id: str
    audit_run_id: str
    merchant_id: str
    biller_id: str


async def make_oversight(app: FastAPI, world: World, clock: FrozenClock) -> Oversight:
    wallet = app.state.runtime.wallet
    run = await wallet.reconciliation.do_reconcile(clock.now().date())
    assert [(i.item_no, i.kind, i.resolved_at) for i in run.items] == [(1, "balance", None)]
    audit = await wallet.audit_runs.do_audit(full=True)
    merchant_id = await register_merchant(app, world.alice.user_id)
    return Oversight(run.run_id, audit.run_id, merchant_id, await register_biller(app))
