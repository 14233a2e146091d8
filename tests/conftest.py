"""Shared fixtures: a migrated database per test (SQLite, or PostgreSQL when
``COURTYARD_TEST_PG`` is set), the app on it, and an HTTP client through ``ASGITransport``."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from courtyard.api import create_app
from courtyard.core.clock import FrozenClock
from courtyard.core.config import Settings, load_settings
from courtyard.db.migrate import upgrade
from courtyard.domains.accounts import Hasher
from courtyard.migrations.schema import metadata

PG_URL = os.environ.get(
    "COURTYARD_TEST_PG", ""
)  # e.g. postgresql://postgres@127.0.0.1:5432/postgres
NATS_URL = os.environ.get("COURTYARD_TEST_NATS", "")  # e.g. nats://127.0.0.1:4222
PASSWORD = "correct horse battery staple"


def pg_database_url(name: str) -> str:
    """A URL for database ``name`` on the test PostgreSQL server."""
    base = PG_URL.replace("postgresql://", "postgresql+asyncpg://", 1)
    return base.rsplit("/", 1)[0] + "/" + name


async def recreate_pg_database(name: str) -> str:
    """Drop and create database ``name`` on the test server; return its URL."""
    admin = create_async_engine(
        pg_database_url("postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return pg_database_url(name)


async def drop_pg_database(name: str) -> None:
    admin = create_async_engine(
        pg_database_url("postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated once per session: a SQLite file to copy, or a PostgreSQL database
    of this test process's own (so parallel runs on one server do not collide)."""
    if PG_URL:
        name = f"courtyard_test_{os.getpid()}"
        url = asyncio.run(recreate_pg_database(name))
        upgrade(url)
        yield url
        asyncio.run(drop_pg_database(name))
        return
    path = tmp_path_factory.mktemp("template") / "courtyard.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    yield str(path)


# One query naming the tables that hold any row: a test touches a handful of the 59 tables,
# and truncating only those is several times faster than truncating all (0.04 s against
# 0.2 to 0.4 s for an empty database here), which was most of a PostgreSQL test's set-up.
_HOLDING_ROWS = " UNION ALL ".join(
    f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM \"{t.name}\")" for t in metadata.sorted_tables
)


async def _truncate_all(url: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.begin() as conn:
        used = [row[0] for row in (await conn.execute(text(_HOLDING_ROWS))).all()]
        if used:
            # The ledger's append-only triggers refuse TRUNCATE; a test database's superuser
            # may switch user triggers off for this transaction (the server's role cannot).
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
            tables = ", ".join(f'"{name}"' for name in used)
            await conn.execute(text(f"TRUNCATE {tables} CASCADE"))
    await engine.dispose()


@pytest.fixture
def database_url(migrated_template: str, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty database for this test."""
    if PG_URL:
        asyncio.run(_truncate_all(migrated_template))
        yield migrated_template
        return
    target = tmp_path / "courtyard.db"
    shutil.copyfile(migrated_template, target)
    yield f"sqlite+aiosqlite:///{target}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # The recurring audit and reconciliation jobs would show up in every test that counts
    # what run_due() ran; their own tests (test_wallet_audit_runs.py, test_reconciliation.py)
    # turn them on.
    return load_settings(
        database_url=database_url, data_dir=tmp_path, log_format="text",
        wallet_oversight_jobs=False, privacy_daily_jobs=False,
    )  # fmt: skip


@pytest.fixture
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registering hundreds of users with real argon2 takes most of a minute; tests that are
    not about passwords give the shared test password one precomputed hash. Everything else
    (other passwords, payment PINs) is still hashed for real."""
    real = Hasher.hash_now
    hashed = real(Hasher(), PASSWORD)
    monkeypatch.setattr(
        Hasher,
        "hash_now",
        lambda self, secret: hashed if secret == PASSWORD else real(self, secret),
    )


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def app(settings: Settings, clock: FrozenClock) -> AsyncIterator[FastAPI]:
    application = create_app(settings, clock=clock)
    runtime = application.state.runtime
    await runtime.start()
    try:
        yield application
    finally:
        await runtime.stop()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://courtyard.test") as http:
        yield http


async def policy_consent(http: httpx.AsyncClient, region: str) -> dict[str, Any]:
    """What a registration in ``region`` sends to consent: the current policy's hash, and
    every purpose the service or the wallet needs granted (marketing not)."""
    response = await http.get("/v1/privacy/policy", params={"country": region})
    assert response.status_code == 200, response.text
    policy = response.json()
    purposes = {name: spec["gates"] != "none" for name, spec in policy["purposes"].items()}
    return {"policy_version_hash": policy["version_hash"], "purposes": purposes}


async def register(
    http: httpx.AsyncClient, username: str, *, password: str = PASSWORD, region: str = "DE"
) -> dict[str, str]:
    """Register ``username`` through the API, consenting to the region's policy, and return
    the session JSON."""
    response = await http.post(
        "/v1/accounts",
        json={
            "username": username,
            "password": password,
            "display_name": username.title(),
            "region": region,
            **await policy_consent(http, region),
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, str] = response.json()
    return body


def bearer(session: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['access_token']}"}


@pytest.fixture
async def live_server(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port inside this test's event loop, for
    WebSocket tests; yields the base URL. The app's runtime is already started by ``app``."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="off", ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes only a flag
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
async def app_factory_limit(
    database_url: str, tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[httpx.AsyncClient]:
    """A client on an app whose per-address login limit is 5 (for throttle tests)."""
    settings = load_settings(
        database_url=database_url, data_dir=tmp_path, login_max_failures_per_address=5
    )
    application = create_app(settings, clock=clock)
    await application.state.runtime.start()
    transport = httpx.ASGITransport(app=application)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://courtyard.test") as http:
            yield http
    finally:
        await application.state.runtime.stop()
