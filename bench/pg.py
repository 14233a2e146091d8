"""A fresh PostgreSQL database per run, created and dropped with asyncpg."""

from __future__ import annotations

import os

import asyncpg  # type: ignore[import-untyped]

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def fresh_name() -> str:
    return f"courtyard_bench_{os.getpid()}"


async def create_database(name: str, options: str = "") -> str:
    """Create database ``name`` (dropping a leftover of the same name) with ``CREATE DATABASE``
    ``options`` (e.g. a collation); returns its URL."""
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}" {options}'.rstrip())
    finally:
        await conn.close()
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
