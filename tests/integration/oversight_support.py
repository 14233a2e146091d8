"""Helpers for the oversight tests (audit runs, reconciliation): an app whose recurring jobs
are scheduled at start but whose background job loop is stopped, so that each test plays the
nodes' job runners itself, with a frozen clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI

from courtyard.api import create_app
from courtyard.core.clock import FrozenClock
from courtyard.core.config import Settings, load_settings
from courtyard.domains.accounts import OperatorActionsLog
from courtyard.domains.wallet import ReconciliationRunView


def oversight_settings(database_url: str, tmp_path: Path) -> Settings:
    """The shared test settings, with the audit and reconciliation jobs scheduled at start."""
    return load_settings(
        database_url=database_url, data_dir=tmp_path, log_format="text",
        wallet_oversight_jobs=True,
    )  # fmt: skip


async def started_without_job_loop(
    settings: Settings, clock: FrozenClock
) -> AsyncIterator[FastAPI]:
    """The app, started; its due-job loop is stopped before it first runs (no await comes
    between its start and its stop), so no job runs behind the test's back."""
    application = create_app(settings, clock=clock)
    runtime = application.state.runtime
    await runtime.start()
    await runtime.due_runner.stop()
    try:
        yield application
    finally:
        await runtime.stop()


async def settled_there(app: FastAPI, operation_id: str) -> str:
    """The provider's final status of an operation, once the sandbox has settled it."""
    provider = app.state.runtime.wallet.operations.provider
    for _ in range(500):
        status: str = (await provider.status(operation_id)).status
        if status != "pending":
            return status
        await asyncio.sleep(0.01)
    raise AssertionError(f"the sandbox never settled {operation_id}")


async def make_operator(app: FastAPI, username: str, *roles: str) -> str:
    """A new operator with ``roles``; returns its id."""
    created = await app.state.runtime.operators.do_create_operator(
        username, "a strong operator passphrase", list(roles)
    )
    operator_id: str = created.operator_id
    return operator_id


def items_of(run: ReconciliationRunView) -> list[tuple[int, str, str | None]]:
    return [(item.item_no, item.kind, item.operation_id) for item in run.items]


async def operator_actions(app: FastAPI) -> list[tuple[str, str, str, str | None]]:
    """What operators did (console or host commands), oldest first, from the audit log."""
    rows = await OperatorActionsLog(app.state.runtime.db).get_latest(limit=500)
    return [
        (r.operator_id, r.action, r.target, r.note)
        for r in reversed(rows)
        if r.actor.startswith(("operator:", "cli"))
    ]
