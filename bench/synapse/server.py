"""A benchmark Synapse process: installed, configured, keys generated, served, cleaned up."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from bench.pg import create_database, drop_database, fresh_name
from bench.procs import Served, free_port, serve
from bench.synapse.config import Homeserver, new_homeserver, write_config
from bench.synapse.database import CREATE_OPTIONS, database_section
from bench.synapse.install import SYNAPSE_VERSION, ensure_installed

KEYGEN_TIMEOUT_S = 120


@dataclass(frozen=True)
class Running:
    """A started Synapse: its process (for ``/proc`` figures) and its configuration."""

    served: Served
    homeserver: Homeserver
    version: str = SYNAPSE_VERSION


def homeserver_command(python: Path, config_path: Path) -> list[str]:
    return [str(python), "-m", "synapse.app.homeserver", "--config-path", str(config_path)]


def generate_keys(python: Path, homeserver: Homeserver) -> None:
    """Have Synapse write the signing key the configuration names."""
    command = [*homeserver_command(python, homeserver.config_path), "--generate-keys"]
    done = subprocess.run(  # noqa: S603 - our venv's Synapse, our arguments
        command, cwd=homeserver.data_dir, capture_output=True, text=True,
        timeout=KEYGEN_TIMEOUT_S, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"synapse --generate-keys failed: {done.stderr[-2000:]}")


@contextlib.asynccontextmanager
async def synapse(workdir: Path, backend: str, tag: str) -> AsyncIterator[Running]:
    """A fresh Synapse with a fresh database of ``backend``, stopped when the block ends."""
    python = await asyncio.to_thread(ensure_installed)
    data_dir = workdir / f"synapse-{backend}-{tag}"
    data_dir.mkdir()
    name = f"{fresh_name()}_synapse_{tag}"
    if backend == "postgresql":
        await create_database(name, CREATE_OPTIONS)
    try:
        homeserver = new_homeserver(
            data_dir, free_port(), database_section(backend, data_dir, name)
        )
        write_config(homeserver)
        await asyncio.to_thread(generate_keys, python, homeserver)
        command = homeserver_command(python, homeserver.config_path)
        with serve(command, data_dir, homeserver.port, "/health") as served:
            yield Running(served, homeserver)
    finally:
        if backend == "postgresql":
            await drop_database(name)
