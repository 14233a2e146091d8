"""The one data map over every domain: each table's subject and each column's declaration,
with the domain that declares it and a version hash (docs/data-map.md)."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from courtyard.core.datamap import DataMap, Subject, TableMap
from courtyard.core.errors import NotFound


class TableNotDeclared(NotFound):
    code = "table_not_declared"
    title = "The data map declares no such table"


@dataclass(frozen=True, slots=True)
class RegisteredMap:
    """Every table's map; ``domains`` names the domain declaring each table; ``version`` is
    the SHA-256 of the map's canonical JSON, so an export says which map it followed."""

    tables: Mapping[str, TableMap]
    domains: Mapping[str, str]
    version: str


@functools.cache
def get_data_map() -> RegisteredMap:
    """The registered map, built on first use."""
    # Imported here rather than with the privacy package: each map's module loads its
    # domain's package, and some domains (legal, and any that records consent) import privacy.
    from courtyard.domains.accounts.datamap import ACCOUNTS_DATA_MAP
    from courtyard.domains.audit.datamap import AUDIT_DATA_MAP
    from courtyard.domains.jobs.datamap import JOBS_DATA_MAP
    from courtyard.domains.keys.datamap import KEYS_DATA_MAP
    from courtyard.domains.legal.datamap import LEGAL_DATA_MAP
    from courtyard.domains.media.datamap import MEDIA_DATA_MAP
    from courtyard.domains.messaging.datamap import MESSAGING_DATA_MAP
    from courtyard.domains.privacy.datamap import PRIVACY_DATA_MAP
    from courtyard.domains.todevice.datamap import TODEVICE_DATA_MAP
    from courtyard.domains.wallet.datamap import WALLET_DATA_MAP
    from courtyard.streams.datamap import STREAMS_DATA_MAP

    return register(
        {
            "accounts": ACCOUNTS_DATA_MAP,
            "keys": KEYS_DATA_MAP,
            "messaging": MESSAGING_DATA_MAP,
            "media": MEDIA_DATA_MAP,
            "todevice": TODEVICE_DATA_MAP,
            "streams": STREAMS_DATA_MAP,
            "wallet": WALLET_DATA_MAP,
            "jobs": JOBS_DATA_MAP,
            "privacy": PRIVACY_DATA_MAP,
            "legal": LEGAL_DATA_MAP,
            "audit": AUDIT_DATA_MAP,
        }
    )


def register(maps: Mapping[str, DataMap]) -> RegisteredMap:
    """Join per-domain maps; a table declared by two domains, or a link to a table no one
    declares, is a mistake."""
    tables: dict[str, TableMap] = {}
    domains: dict[str, str] = {}
    for domain, data_map in maps.items():
        for name, table_map in data_map.items():
            if name in tables:
                raise ValueError(f"{name} is declared by {domains[name]} and {domain}")
            tables[name] = table_map
            domains[name] = domain
    for name, table_map in tables.items():
        for link in table_map.subject.links:
            if link.table not in tables or link.key not in tables[link.table].columns:
                raise ValueError(f"{name} links to undeclared {link.table}.{link.key}")
            if link.column not in table_map.columns:
                raise ValueError(f"{name} links from undeclared column {link.column}")
        for column in table_map.subject.columns:
            if column not in table_map.columns:
                raise ValueError(f"{name}'s subject column {column} is not declared")
    body = {"tables": _tables_json(tables, domains)}
    version = hashlib.sha256(_canonical(body)).hexdigest()
    return RegisteredMap(tables, domains, version)


def data_map_json(registered: RegisteredMap, only: str | None = None) -> dict[str, Any]:
    """The map as JSON: its version and, per table (or only ``only``), its domain, subject and
    column declarations; ``TableNotDeclared`` for an ``only`` the map does not name."""
    if only is not None and only not in registered.tables:
        raise TableNotDeclared(f"no table {only!r} in the data map")
    tables = {k: v for k, v in registered.tables.items() if only is None or k == only}
    return {"version": registered.version, "tables": _tables_json(tables, registered.domains)}


def _tables_json(tables: Mapping[str, TableMap], domains: Mapping[str, str]) -> dict[str, Any]:
    return {
        name: {
            "domain": domains[name],
            "subject": _subject_json(tables[name].subject),
            "columns": {
                column: {
                    "category": d.category,
                    "purpose": d.purpose,
                    "basis": list(d.basis),
                    "retention": d.retention,
                }
                for column, d in tables[name].columns.items()
            },
        }
        for name in sorted(tables)
    }


def _subject_json(subject: Subject) -> dict[str, Any]:
    return {
        "columns": list(subject.columns),
        "links": [
            {"column": link.column, "table": link.table, "key": link.key} for link in subject.links
        ],
        "note": subject.note or None,
        "withheld": subject.withheld,
    }


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
