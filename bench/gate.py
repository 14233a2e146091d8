"""The consent gate's cost (issue 6): every authenticated request that is not a privacy route
also reads what its user consented to (``ConsentGate.check``: one indexed query; the current
policy versions come from a per-node cache). Measured in-process against a fresh migrated
database, side by side with the bearer-token lookup every request already makes
(``AccountsService.authenticate``), interleaved call by call so machine noise falls on both.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from bench.pg import create_database, drop_database, fresh_name

USERS = 20
ROUNDS = 250  # calls per user and kind; 5,000 of each in all


async def run_gate(workdir: Path, backend: str) -> dict[str, Any]:
    """Median and p95 microseconds of the token lookup and of the consent gate, and their
    ratio, over ``USERS`` consented users."""
    from courtyard.api import create_app
    from courtyard.core.config import load_settings
    from courtyard.db.migrate import upgrade

    data_dir = workdir / f"{backend}-gate"
    data_dir.mkdir()
    name = f"{fresh_name()}_gate"
    url = f"sqlite+aiosqlite:///{data_dir / 'courtyard.db'}"
    if backend == "postgresql":
        url = (await create_database(name)).replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        upgrade(url)
        settings = load_settings(
            database_url=url, data_dir=data_dir, log_format="text",
            wallet_oversight_jobs=False, privacy_daily_jobs=False,
        )  # fmt: skip
        app = create_app(settings)
        runtime = app.state.runtime
        await runtime.start()
        try:
            users = await _register(app)
            auth_us, gate_us = [], []
            for _ in range(ROUNDS):
                for token, user_id in users:
                    started = time.perf_counter()
                    await runtime.accounts.authenticate(token)
                    between = time.perf_counter()
                    await runtime.consent.gate.check(user_id)
                    auth_us.append((between - started) * 1e6)
                    gate_us.append((time.perf_counter() - between) * 1e6)
        finally:
            await runtime.stop()
    finally:
        if backend == "postgresql":
            await drop_database(name)
    auth, gate = statistics.median(auth_us), statistics.median(gate_us)
    return {
        "calls": len(gate_us),
        "auth_p50_us": round(auth),
        "auth_p95_us": round(_p95(auth_us)),
        "gate_p50_us": round(gate),
        "gate_p95_us": round(_p95(gate_us)),
        "gate_over_auth": round(gate / auth, 2),
    }


async def _register(app: Any) -> list[tuple[str, str]]:
    """``USERS`` users who consented to their region's policy at registration."""
    users = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        policy = (await http.get("/v1/privacy/policy", params={"country": "DE"})).json()
        for index in range(USERS):
            response = await http.post(
                "/v1/accounts",
                json={
                    "username": f"gate{index}",
                    "password": "gate benchmark passphrase",
                    "display_name": f"Gate {index}",
                    "region": "DE",
                    "policy_version_hash": policy["version_hash"],
                    "purposes": {},
                },
            )
            response.raise_for_status()
            session = response.json()
            users.append((session["access_token"], session["user_id"]))
    return users


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]
