"""Alembic builds the models' schema exactly, on SQLite and PostgreSQL: upgrade to head,
downgrade to base and upgrade again; ``courtyard db`` drives it and refuses a bad URL."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from courtyard.cli.main import app
from courtyard.db.migrate import current_revision, downgrade, head_revision, upgrade
from courtyard.migrations.schema import metadata
from tests.conftest import PG_URL, drop_pg_database, recreate_pg_database

T = TypeVar("T")
VERSION_TABLE = "alembic_version"
MODEL_TABLES = frozenset(metadata.tables)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=[
                pytest.mark.pg,
                pytest.mark.skipif(
                    not PG_URL, reason="needs PostgreSQL: set COURTYARD_TEST_PG=postgresql://…"
                ),
            ],
        ),
    ]
)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database no migration has touched: a new SQLite file, or a PostgreSQL
    database of this test's own."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'courtyard.db'}"
        return
    name = f"courtyard_migrations_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    url = asyncio.run(recreate_pg_database(name))
    try:
        yield url
    finally:
        asyncio.run(drop_pg_database(name))


def inspect_database(url: str, read: Callable[[Connection], T]) -> T:
    """Run ``read`` on a sync connection to the database at ``url``."""

    async def run() -> T:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(read)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def table_names(conn: Connection) -> set[str]:
    return set(sa.inspect(conn).get_table_names())


def leftovers(conn: Connection) -> dict[str, list[str]]:
    """Schema objects besides tables that a downgrade could forget to drop."""
    inspector: Any = sa.inspect(conn)
    found = {"views": list(inspector.get_view_names())}
    if conn.dialect.name == "postgresql":
        found["sequences"] = list(inspector.get_sequence_names())
        found["enums"] = [enum["name"] for enum in inspector.get_enums()]
    return {kind: names for kind, names in found.items() if names}


def schema_diff(conn: Connection) -> list[Any]:
    """What Alembic's autogenerate would change to make the database match the models."""
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def revision_of(url: str) -> str | None:
    return asyncio.run(current_revision(url))


def test_upgrade_to_head_creates_exactly_the_models_tables(empty_database: str) -> None:
    upgrade(empty_database)

    assert inspect_database(empty_database, table_names) == MODEL_TABLES | {VERSION_TABLE}
    assert revision_of(empty_database) == head_revision()


def test_migrated_schema_matches_the_models_column_for_column(empty_database: str) -> None:
    upgrade(empty_database)

    assert inspect_database(empty_database, schema_diff) == []


def test_downgrade_to_base_leaves_no_application_tables(empty_database: str) -> None:
    upgrade(empty_database)

    downgrade(empty_database, "base")

    assert inspect_database(empty_database, table_names) <= {VERSION_TABLE}
    assert inspect_database(empty_database, leftovers) == {}
    assert revision_of(empty_database) is None


def test_upgrade_after_downgrade_rebuilds_the_same_schema(empty_database: str) -> None:
    upgrade(empty_database)
    downgrade(empty_database, "base")

    upgrade(empty_database)

    assert inspect_database(empty_database, table_names) == MODEL_TABLES | {VERSION_TABLE}
    assert inspect_database(empty_database, schema_diff) == []
    assert revision_of(empty_database) == head_revision()


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    """A runner isolated from the developer's environment and any ``courtyard.toml``."""
    for name in list(os.environ):
        if name.startswith("COURTYARD_") and not name.startswith("COURTYARD_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COURTYARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def test_cli_db_upgrade_brings_a_new_database_to_head(cli: CliRunner, empty_database: str) -> None:
    before = cli.invoke(app, ["db", "current", "--db", empty_database])
    assert before.exit_code == 0, before.output
    assert before.stdout.strip() == "none"

    upgraded = cli.invoke(app, ["db", "upgrade", "--db", empty_database])
    assert upgraded.exit_code == 0, upgraded.output
    assert "database at head" in upgraded.output

    after = cli.invoke(app, ["db", "current", "--db", empty_database])
    assert after.exit_code == 0, after.output
    assert after.stdout.strip() == head_revision()
    assert inspect_database(empty_database, table_names) == MODEL_TABLES | {VERSION_TABLE}


def test_cli_accepts_the_plain_sqlite_url_form(cli: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plain.db'}"

    upgraded = cli.invoke(app, ["db", "upgrade", "--db", url])

    assert upgraded.exit_code == 0, upgraded.output
    assert cli.invoke(app, ["db", "current", "--db", url]).stdout.strip() == head_revision()


@pytest.mark.parametrize(
    "command", [["db", "upgrade"], ["db", "current"], ["db", "downgrade", "base"]]
)
def test_cli_refuses_an_invalid_database_url_with_exit_2_and_no_traceback(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("COURTYARD_DATABASE_URL", "mysql://root@localhost/courtyard")

    result = cli.invoke(app, command)

    message = " ".join(result.output.split())  # undo the console's line wrapping
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "invalid configuration: database_url" in message
    assert "must start with sqlite:///" in message
    assert "Traceback" not in result.output
    assert not (Path("data") / "courtyard.db").exists()
