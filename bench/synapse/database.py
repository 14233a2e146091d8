"""Synapse's database: SQLite in the work directory, or a fresh PostgreSQL database.

Synapse refuses a PostgreSQL database whose collation is not ``C``, so the database is made
from ``template0`` with UTF-8 and C collation, as its documentation asks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
# What Synapse's documentation asks of its PostgreSQL database (bench.pg.create_database).
CREATE_OPTIONS = "ENCODING 'UTF8' LC_COLLATE='C' LC_CTYPE='C' TEMPLATE template0"


def database_section(backend: str, data_dir: Path, name: str) -> dict[str, Any]:
    """The ``database`` block of homeserver.yaml for ``backend`` (sqlite or postgresql)."""
    if backend == "sqlite":
        return {"name": "sqlite3", "args": {"database": str(data_dir / "homeserver.db")}}
    if backend != "postgresql":
        raise ValueError(f"unknown backend {backend!r}")
    args = {"user": PG_USER, "host": PG_HOST, "port": PG_PORT, "database": name,
            "cp_min": 5, "cp_max": 10}  # fmt: skip
    return {"name": "psycopg2", "args": args}
