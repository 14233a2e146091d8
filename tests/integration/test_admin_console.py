"""The operator console's shell over HTTP: sign-in, throttling, server-side sessions with
idle and absolute expiry, sign-out, CSRF, security headers, and the page-by-role matrix of
docs/wallet.md "Admin console pages" (allowed → 200, not allowed → 403, signed out →
redirect to sign-in)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from courtyard.api import create_app
from courtyard.core.clock import FrozenClock
from courtyard.core.config import load_settings
from courtyard.domains.accounts import Hasher
from tests.conftest import PASSWORD, policy_consent
from tests.integration.admin_support import (
    ROLES,
    OperatorFactory,
    Oversight,
    World,
    actions,
    browser,
    create_operator,
    csrf_of,
    make_oversight,
    make_world,
    operator_factory,
    submit_login,
)
from tests.integration.legal_support import DeskPages, make_desk_pages

WRONG = "not the operator's password"
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


@pytest.fixture
async def operators(app: FastAPI) -> AsyncIterator[OperatorFactory]:
    async for make in operator_factory(app):
        yield make


def cookies_set(response: httpx.Response) -> dict[str, str]:
    """name → the whole Set-Cookie line, for each cookie the response sets."""
    return {line.split("=", 1)[0]: line for line in response.headers.get_list("set-cookie")}


# --- sign-in ----------------------------------------------------------------------------


async def test_signing_in_sets_a_strict_httponly_cookie_and_stores_only_its_hash(
    app: FastAPI,
) -> None:
    await create_operator(app, "olga", "finance")
    async with browser(app) as http:
        answer = await submit_login(http, "olga")
        assert (answer.status_code, answer.headers["location"]) == (303, "/admin/")
        cookie = cookies_set(answer)["courtyard_admin"]
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert "Path=/admin" in cookie
        assert "Secure" not in cookie  # plain http here; see the https test
        token = http.cookies["courtyard_admin"]
        home = await http.get("/admin/")
    assert home.status_code == 200
    assert 'id="operator-name">olga<' in home.text
    async with app.state.runtime.db.read() as session:
        stored = list(await session.scalars(text("SELECT token_hash FROM operator_sessions")))
    assert stored == [hashlib.sha256(token.encode()).digest()]


async def test_over_https_the_cookie_is_secure_and_pages_carry_hsts(app: FastAPI) -> None:
    await create_operator(app, "olga", "admin")
    async with browser(app, "https://courtyard.test") as http:
        answer = await submit_login(http, "olga")
        assert "Secure" in cookies_set(answer)["courtyard_admin"]
        home = await http.get("/admin/")
    assert home.status_code == 200
    assert home.headers["strict-transport-security"] == "max-age=31536000"


async def test_sign_in_returns_to_the_page_asked_for_and_never_leaves_the_console(
    app: FastAPI,
) -> None:
    await create_operator(app, "olga", "admin")
    async with browser(app) as http:
        asked = await http.get("/admin/jobs?x=1")
        assert asked.headers["location"] == "/admin/login?next=%2Fadmin%2Fjobs%3Fx%3D1"
        back = await submit_login(http, "olga", next_path="/admin/jobs?x=1")
        assert back.headers["location"] == "/admin/jobs?x=1"
        for elsewhere in ("https://evil.example/", "//evil.example/admin/", "/v1/wallet"):
            http.cookies.clear()
            answer = await submit_login(http, "olga", next_path=elsewhere)
            assert answer.headers["location"] == "/admin/", elsewhere


async def test_a_wrong_password_and_an_unknown_username_look_alike_and_cost_alike(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_operator(app, "olga", "admin")
    verified: list[str | None] = []
    real = Hasher.verify_now

    def counting(self: Hasher, password_hash: str | None, password: str) -> bool:
        verified.append(password_hash)
        return real(self, password_hash, password)

    monkeypatch.setattr(Hasher, "verify_now", counting)
    async with browser(app) as http:
        wrong = await submit_login(http, "olga", WRONG)
        unknown = await submit_login(http, "nobody-here", WRONG)
        malformed = await submit_login(http, "no such operator!", WRONG)
        assert "courtyard_admin" not in http.cookies
    assert wrong.status_code == unknown.status_code == malformed.status_code == 401
    message = 'id="login-message" role="alert">Wrong username or password.<'
    assert all(message in answer.text for answer in (wrong, unknown, malformed))
    # One real argon2id verification each: the unknown names against the dummy hash.
    assert len(verified) == 3
    assert verified[0] is not None
    assert verified[1:] == [None, None]


async def test_a_sign_in_without_the_forms_own_token_is_refused(app: FastAPI) -> None:
    await create_operator(app, "olga", "admin")
    async with browser(app) as http:
        forged = await http.post(
            "/admin/login", data={"username": "olga", "password": PASSWORD, "login_token": "x"}
        )
        assert forged.status_code == 403
        assert "courtyard_admin" not in http.cookies
    assert await actions(app) == []


@pytest.fixture
async def strict_app(
    database_url: str, tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[FastAPI]:
    """An app that allows 3 failed sign-ins per operator (and per member) an hour."""
    settings = load_settings(
        database_url=database_url, data_dir=tmp_path, login_max_failures_per_account=3
    )
    application = create_app(settings, clock=clock)
    await application.state.runtime.start()
    try:
        yield application
    finally:
        await application.state.runtime.stop()


async def test_repeated_failures_throttle_even_the_right_password_until_the_window_passes(
    strict_app: FastAPI, clock: FrozenClock
) -> None:
    await create_operator(strict_app, "olga", "admin")
    async with browser(strict_app) as http:
        for _ in range(3):
            assert (await submit_login(http, "olga", WRONG)).status_code == 401
        refused = await submit_login(http, "olga")
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
        assert "courtyard_admin" not in http.cookies
        # The console counts apart from member logins: a member "olga" still signs in.
        registered = await http.post(
            "/v1/accounts",
            json={
                "username": "olga",
                "password": PASSWORD,
                "display_name": "O",
                "region": "DE",
                **await policy_consent(http, "DE"),
            },
        )
        assert registered.status_code == 201
        member_login = await http.post(
            "/v1/sessions", json={"username": "olga", "password": PASSWORD}
        )
        assert member_login.status_code == 200
        clock.advance(seconds=3601)
        assert (await submit_login(http, "olga")).status_code == 303


# --- sessions ---------------------------------------------------------------------------


async def test_a_session_ends_after_30_idle_minutes(
    app: FastAPI, clock: FrozenClock, operators: OperatorFactory
) -> None:
    olga = await operators("olga", "admin")
    for _ in range(3):  # every visit moves the idle deadline on
        clock.advance(minutes=29)
        assert (await olga.http.get("/admin/")).status_code == 200
    clock.advance(minutes=30)
    expired = await olga.http.get("/admin/jobs")
    assert expired.status_code == 303
    assert expired.headers["location"].startswith("/admin/login?next=")
    async with app.state.runtime.db.read() as session:
        assert await session.scalar(text("SELECT count(*) FROM operator_sessions")) == 0


async def test_a_session_ends_12_hours_after_sign_in_however_busy(
    clock: FrozenClock, operators: OperatorFactory
) -> None:
    olga = await operators("olga", "admin")
    for _ in range(24):  # 24 times 29 min = 11 h 36 min
        clock.advance(minutes=29)
        assert (await olga.http.get("/admin/")).status_code == 200
    clock.advance(minutes=29)
    assert (await olga.http.get("/admin/")).status_code == 303


async def test_signing_out_deletes_the_session_and_needs_the_csrf_token(
    app: FastAPI, operators: OperatorFactory
) -> None:
    olga = await operators("olga", "admin")
    token = olga.http.cookies["courtyard_admin"]
    assert (await olga.http.post("/admin/logout")).status_code == 403  # no CSRF token
    assert (await olga.http.get("/admin/")).status_code == 200
    out = await olga.post("/admin/logout")
    assert (out.status_code, out.headers["location"]) == (303, "/admin/login")
    assert "Max-Age=0" in cookies_set(out)["courtyard_admin"]
    async with browser(app) as replay:  # the old cookie, sent again
        replay.cookies.set("courtyard_admin", token, domain="courtyard.test", path="/admin")
        assert (await replay.get("/admin/")).status_code == 303
    kinds = [a.action for a in await actions(app)]
    assert kinds == ["console.sign_out", "console.sign_in"]


# --- CSRF and headers -------------------------------------------------------------------


@pytest.fixture
async def world(app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock) -> World:
    return await make_world(app, client, clock)


async def test_posts_without_or_with_a_wrong_csrf_token_change_nothing(
    app: FastAPI, world: World, operators: OperatorFactory
) -> None:
    olga = await operators("olga", "admin")
    fred = await operators("fred", "finance")
    freeze = f"/admin/wallet/accounts/{world.account_id}/freeze"
    attempts = [
        await olga.http.post(freeze, data={"note": "no token"}),
        await olga.http.post(freeze, data={"note": "wrong", "csrf_token": "x" * 43}),
        await olga.http.post(freeze, data={"note": "fred's token", "csrf_token": fred.csrf}),
        await olga.http.post("/admin/jobs/retry", data={"job_id": world.job_id}),
    ]
    assert [a.status_code for a in attempts] == [403, 403, 403, 403]
    assert "CSRF token is missing or wrong" in attempts[0].text
    account = await olga.http.get(f"/admin/ledger/accounts/{world.account_id}")
    assert 'class="status status-open"' in account.text
    assert (await app.state.runtime.due.get_job(world.job_id)).state == "failed"
    assert not [
        a for a in await actions(app) if a.action in ("wallet.account.freeze", "jobs.retry")
    ]


async def test_every_console_response_carries_the_strict_csp_and_security_headers(
    app: FastAPI, world: World, operators: OperatorFactory
) -> None:
    olga = await operators("olga", "admin")
    responses = [
        await olga.http.get(path)
        for path in (
            "/admin/", "/admin/ledger?q=alice", f"/admin/ledger/accounts/{world.account_id}",
            "/admin/jobs", "/admin/actions", "/admin/static/admin.css", "/admin/no-such-page",
        )
    ]  # fmt: skip
    async with browser(app) as anonymous:
        responses += [await anonymous.get("/admin/login"), await anonymous.get("/admin/")]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 200, 200, 404, 200, 303]
    for response in responses:
        for header, value in SECURITY_HEADERS.items():
            assert response.headers.get(header) == value, (response.url, header)
    assert "<script" not in "".join(r.text for r in responses)


# --- the page-by-role matrix -------------------------------------------------------------

ALL = frozenset(ROLES)
LEDGER = frozenset({"admin", "finance"})
LEGAL_DESK = frozenset({"admin", "legal_reviewer", "legal_approver"})


@pytest.fixture
async def oversight(app: FastAPI, world: World, clock: FrozenClock) -> Oversight:
    return await make_oversight(app, world, clock)


@pytest.fixture
async def desk_pages(app: FastAPI, world: World) -> DeskPages:
    return await make_desk_pages(app)


def pages(
    world: World, oversight: Oversight, desk_pages: DeskPages
) -> dict[str, tuple[str, frozenset[str]]]:
    """Every GET page, with the roles docs/wallet.md's and docs/legal-desk.md's tables admit."""
    legal = desk_pages.pages()
    reconciliation = f"/admin/wallet/reconciliation/runs/{oversight.reconciliation_run_id}"
    return {
        "home": ("/admin/", ALL),
        "ledger search": ("/admin/ledger?q=alice", LEDGER),
        "account": (f"/admin/ledger/accounts/{world.account_id}", LEDGER),
        "entry": (f"/admin/ledger/entries/{world.entry_id}", LEDGER),
        "flow": (f"/admin/ledger/flows/transfer/{world.transfer_id}", LEDGER),
        "user wallet": ("/admin/wallet/users?username=alice", LEDGER | {"support"}),
        "due jobs": ("/admin/jobs", LEDGER),
        "operator actions": ("/admin/actions", frozenset({"admin"})),
        "reconciliation runs": ("/admin/wallet/reconciliation", LEDGER),
        "reconciliation run": (reconciliation, LEDGER),
        "audit runs": ("/admin/wallet/audits", LEDGER),
        "audit run": (f"/admin/wallet/audits/{oversight.audit_run_id}", LEDGER),
        "merchants": ("/admin/wallet/merchants", LEDGER | {"support"}),
        "billers": ("/admin/wallet/billers", LEDGER | {"support"}),
        "transparency report": (
            "/admin/legal/transparency",
            frozenset({"admin", "legal_reviewer", "legal_approver"}),
        ),
        **{name: (legal[name], LEGAL_DESK) for name in ("legal cases", "legal rules")},
        **{name: (legal[name], LEGAL_DESK) for name in ("legal case", "legal document")},
        "legal intake": (legal["legal intake"], LEGAL_DESK - {"admin"}),
        "legal package": (legal["legal package"], frozenset({"legal_approver"})),
        "legal holds": ("/admin/privacy/holds", LEGAL_DESK),  # docs/user-rights.md
        "complaints": ("/admin/privacy/complaints", frozenset({"support", "admin"})),
    }


@pytest.mark.parametrize("role", [*ROLES, None], ids=[*ROLES, "signed-out"])
async def test_each_page_and_action_admits_exactly_the_roles_of_the_design(
    app: FastAPI,
    world: World,
    oversight: Oversight,
    desk_pages: DeskPages,
    operators: OperatorFactory,
    clock: FrozenClock,
    role: str | None,
) -> None:
    async with browser(app) as anonymous:
        if role is None:
            http, csrf = anonymous, ""
        else:
            someone = await operators(f"op-{role}", role)
            http, csrf = someone.http, someone.csrf

        def expected(allowed: frozenset[str]) -> int:
            return 303 if role is None else 200 if role in allowed else 403

        every = pages(world, oversight, desk_pages)
        views = {name: (await http.get(path)).status_code for name, (path, _) in every.items()}
        assert views == {name: expected(allowed) for name, (_, allowed) in every.items()}

        account = f"/admin/wallet/accounts/{world.account_id}"
        note = {"csrf_token": csrf, "note": "checking the roles"}
        posts = {
            "freeze": await http.post(f"{account}/freeze", data=note),
            "unfreeze": await http.post(f"{account}/unfreeze", data=note),
            "retry": await http.post(
                "/admin/jobs/retry", data={"csrf_token": csrf, "job_id": world.job_id}
            ),
            "resolve": await http.post(
                f"/admin/wallet/reconciliation/runs/{oversight.reconciliation_run_id}"
                "/items/1/resolve",
                data={**note, "resolution": "dismissed"},
            ),
            "reconcile": await http.post(
                "/admin/wallet/reconciliation/runs",
                data={"csrf_token": csrf, "day": clock.now().date().isoformat()},
            ),
            "audit": await http.post("/admin/wallet/audits", data={"csrf_token": csrf}),
            "suspend": await http.post(
                f"/admin/wallet/merchants/{oversight.merchant_id}/suspend", data=note
            ),
            "disable": await http.post(
                f"/admin/wallet/billers/{oversight.biller_id}/disable", data=note
            ),
        }
    allowed_posts = {
        "freeze": LEDGER, "unfreeze": LEDGER, "retry": frozenset({"admin"}), "resolve": LEDGER,
        "reconcile": LEDGER, "audit": LEDGER, "suspend": LEDGER, "disable": LEDGER,
    }  # fmt: skip
    assert {name: r.status_code for name, r in posts.items()} == {
        name: 303 if role is None or role in allowed else 403
        for name, allowed in allowed_posts.items()
    }
    if role is None:
        assert {r.headers["location"] for r in posts.values()} == {"/admin/login"}
    recorded = {a.action for a in await actions(app)}
    assert ("wallet.account.freeze" in recorded) == (role in LEDGER)
    assert ("wallet.account.unfreeze" in recorded) == (role in LEDGER)
    assert ("jobs.retry" in recorded) == (role == "admin")
    for action in (
        "wallet.reconciliation.dismissed", "wallet.reconciliation.run", "wallet.audit.run",
        "wallet.merchant.suspend", "wallet.biller.disable",
    ):  # fmt: skip
        assert (action in recorded) == (role in LEDGER), action
    job = await app.state.runtime.due.get_job(world.job_id)
    assert job.state == ("pending" if role == "admin" else "failed")


async def test_a_page_refused_for_a_role_says_which_roles_it_needs(
    operators: OperatorFactory,
) -> None:
    sam = await operators("sam", "support")
    refused = await sam.http.get("/admin/jobs")
    assert refused.status_code == 403
    assert "admin or finance" in refused.text
    home = await sam.http.get("/admin/")
    assert 'href="/admin/wallet/users"' in home.text
    assert 'href="/admin/ledger"' not in home.text
    assert 'href="/admin/jobs"' not in home.text
    assert csrf_of(home)
