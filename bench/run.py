"""``python -m bench run``: start each server, run the workloads, print and save the figures."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.connections import run_connections
from bench.fanout import run_fanout
from bench.gate import run_gate
from bench.limit import run_limit
from bench.machine import describe
from bench.pg import create_database, drop_database, fresh_name
from bench.procs import Served, courtyard_command, echo_command, free_port, raise_fd_limit, serve
from bench.profile import Profile
from bench.relay import run_relay
from bench.synapse.workload import run_synapse
from bench.wallet import run_wallet

WORKLOADS = ("limit", "relay", "connections", "fanout", "wallet", "gate", "synapse")


@contextlib.asynccontextmanager
async def courtyard(workdir: Path, backend: str, tag: str) -> AsyncIterator[Served]:
    """A fresh ``courtyard serve`` with a fresh database of ``backend``."""
    data_dir = workdir / f"{backend}-{tag}"
    data_dir.mkdir()
    name = f"{fresh_name()}_{tag}"
    url = f"sqlite:///{data_dir / 'courtyard.db'}"
    if backend == "postgresql":
        url = await create_database(name)
    port = free_port()
    try:
        with serve(courtyard_command(port, url, data_dir), data_dir, port, "/health") as served:
            yield served
    finally:
        if backend == "postgresql":
            await drop_database(name)


async def run_backend(
    workdir: Path, backend: str, profile: Profile, only: set[str], connections: int
) -> dict[str, Any]:  # fmt: skip
    result: dict[str, Any] = {}
    try:
        await _workloads(workdir, backend, profile, only, connections, result)
    except Exception as exc:  # keep what was measured; say what broke
        result["error"] = repr(exc)
        print(f"{backend}: {exc!r}", flush=True)
    if "synapse" in only:  # after Courtyard's workloads, and whether or not they failed
        print(f"synapse on {backend}", flush=True)
        result["synapse"] = await run_synapse(workdir, backend, profile)
    return result


async def _workloads(
    workdir: Path, backend: str, profile: Profile, only: set[str], connections: int,
    result: dict[str, Any],
) -> None:  # fmt: skip
    if "relay" in only:
        print(f"relay on {backend}", flush=True)
        async with courtyard(workdir, backend, "relay") as served:
            result["relay"] = await run_relay(served, profile)
    if "connections" in only:
        print(f"connections on {backend}", flush=True)
        async with courtyard(workdir, backend, "conn") as served:
            result["connections"] = await run_connections(served, profile, connections)
    if "fanout" in only:
        print(f"fan-out on {backend}", flush=True)
        async with courtyard(workdir, backend, "fanout") as served:
            result["fanout"] = await run_fanout(served, profile)
    if "wallet" in only:
        print(f"wallet on {backend}", flush=True)
        async with courtyard(workdir, backend, "wallet") as served:
            result["wallet"] = await run_wallet(served, profile)
    if "gate" in only:
        print(f"consent gate on {backend}", flush=True)
        result["gate"] = await run_gate(workdir, backend)


async def run_all(
    profile: Profile, backends: list[str], only: set[str], connections: int, out: Path
) -> dict[str, Any]:  # fmt: skip
    started = time.perf_counter()
    report: dict[str, Any] = {
        "meta": {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join([".venv/bin/python -m bench", *sys.argv[1:]]),
            "profile": profile.to_json(),
            "connections": connections,
            "nofile_limit": raise_fd_limit(),
            "machine": describe(),
        },
        "backends": {},
    }
    with tempfile.TemporaryDirectory(prefix="courtyard-bench-") as tmp:
        workdir = Path(tmp)
        if "limit" in only:
            print("limit: bare uvicorn echo", flush=True)
            port = free_port()
            with serve(echo_command(port), workdir, port, "/") as served:
                report["limit"] = await run_limit(served, profile)
        for backend in backends:
            report["backends"][backend] = await run_backend(
                workdir, backend, profile, only, connections
            )
    report["meta"]["wall_s"] = round(time.perf_counter() - started, 1)
    return report


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``base`` with the workloads ``update`` measured replaced by ``update``'s figures; the
    re-run is recorded in ``meta.updates`` (its command, time and workloads), so a report says
    which figures come from which run."""
    merged: dict[str, Any] = json.loads(json.dumps(base))
    workloads: set[str] = set()
    if "limit" in update:
        merged["limit"] = update["limit"]
        workloads.add("limit")
    for backend, figures in update["backends"].items():
        target = merged["backends"].setdefault(backend, {})
        for workload, value in figures.items():
            target[workload] = value
            workloads.add(workload)
    meta = update["meta"]
    merged["meta"].setdefault("updates", []).append({
        "command": meta["command"], "started_at": meta["started_at"], "wall_s": meta["wall_s"],
        "workloads": sorted(workloads), "connections": meta["connections"],
    })  # fmt: skip
    return merged


def main(
    profile: Profile, pg: bool, only: set[str], connections: int, out: Path,
    merge_into: Path | None = None,
) -> dict[str, Any]:  # fmt: skip
    backends = ["sqlite", "postgresql"] if pg else ["sqlite"]
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        runner = asyncio.run
    result: dict[str, Any] = runner(run_all(profile, backends, only, connections, out))
    if merge_into is not None:
        result = merge(json.loads(merge_into.read_text()), result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result
