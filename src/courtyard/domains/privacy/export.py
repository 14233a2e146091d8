"""A user's export: every row of every table whose data-map subject is that user, every
declared column, as JSON; ciphertext labelled as ciphertext, credential hashes withheld, a
sealed lawful request's records left out (docs/data-map.md, "Export")."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Table, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.clock import Clock
from courtyard.core.datamap import Declaration
from courtyard.db import Base, Database
from courtyard.domains.audit import append_audit_entry
from courtyard.domains.privacy.datamap_registry import RegisteredMap, get_data_map
from courtyard.domains.privacy.export_sealed import drop_sealed

EXPORT_FORMAT = "courtyard.export.v1"
E2EE_NOTE = "end-to-end encrypted; the server cannot read it"
CREDENTIAL_NOTE = "a hash kept only to check what you type; never exported"
NOTES = {
    "ciphertext": "Values shaped {ciphertext, note} are end-to-end encrypted: the server stores "
    "them as they arrived and holds no key to read them; your devices can.",
    "credentials": "Password, PIN and token hashes are declared but not exported: they prove "
    "nothing to you and would help anyone who got hold of this file guess the secrets.",
    "attachments": "Attachment bytes live in the blob store as ciphertext; fetch each with "
    "GET /v1/media/{media_id}. The media table lists them.",
    "sealed": "Records of a lawful request about you are left out while a non-disclosure "
    "order on it is in force; you are told of the request by a notice when it ends.",
    "bytes": "Binary values are base64.",
}
MAX_LINK_DEPTH = 6


async def do_export(db: Database, clock: Clock, user_id: str, fmt: str) -> dict[str, Any]:
    """Everything the server holds about ``user_id``, read from one snapshot; then the audit
    entry that records the export (``privacy.export``, actor and subject the user), whose
    position the manifest names. Nothing is returned unless the entry committed."""
    now = clock.now()
    # A read snapshot, not the write transaction: a large export must not hold the audit
    # log's head (or, on SQLite, the database's one writer) while it reads.
    async with db.read() as session:
        export = await get_export(session, now, user_id)
    async with db.transaction() as tx:
        seq = await append_audit_entry(
            tx, clock, actor=f"user:{user_id}", action="privacy.export",
            target=f"user:{user_id}", subject_user_id=user_id, detail={"format": fmt},
        )  # fmt: skip
    export["manifest"]["audit_seq"] = seq
    return export


async def get_export(session: AsyncSession, now: dt.datetime, user_id: str) -> dict[str, Any]:
    """The export as of ``now``: a manifest and, per domain and table, the user's rows."""
    registered = get_data_map()
    data: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for name in sorted(registered.tables):
        subject = registered.tables[name].subject
        if not subject.personal or subject.withheld:
            continue
        rows = await drop_sealed(session, now, name, await get_rows(session, name, user_id))
        columns = registered.tables[name].columns
        presented = [{c: present(columns[c], row[c]) for c in columns} for row in rows]
        data.setdefault(registered.domains[name], {})[name] = presented
    users = data.get("accounts", {}).get("users", [])
    return {
        "manifest": {
            "format": EXPORT_FORMAT,
            "generated_at": iso(now),
            "user": {
                "user_id": user_id,
                "username": users[0]["username"] if users else None,
            },
            "data_map": {"version": registered.version, "url": "/v1/privacy/datamap"},
            "withheld": {
                name: t.subject.withheld
                for name, t in sorted(registered.tables.items())
                if t.subject.withheld
            },
            "notes": NOTES,
        },
        "data": data,
    }


async def get_rows(session: AsyncSession, name: str, user_id: str) -> list[dict[str, Any]]:
    """The rows of table ``name`` whose subject is ``user_id``, in primary-key order."""
    model = _table(name)
    query = select(model).where(belongs_to(get_data_map(), name, user_id))
    result = await session.execute(query.order_by(*model.primary_key.columns))
    return [dict(row) for row in result.mappings()]


def belongs_to(
    registered: RegisteredMap, name: str, user_id: str, depth: int = 0
) -> ColumnElement[bool]:
    """The condition "this row of ``name`` belongs to ``user_id``": a subject column holds
    the id, or a linked table's row that belongs to them has the linked key."""
    if depth > MAX_LINK_DEPTH:
        raise ValueError(f"the data map's links from {name} go round in a circle")
    model = _table(name)
    subject = registered.tables[name].subject
    conditions: list[ColumnElement[bool]] = [model.c[c] == user_id for c in subject.columns]
    for link in subject.links:
        other = _table(link.table)
        keys = select(other.c[link.key]).where(
            belongs_to(registered, link.table, user_id, depth + 1)
        )
        conditions.append(model.c[link.column].in_(keys))
    return or_(*conditions) if conditions else false()


def present(declaration: Declaration, value: Any) -> Any:
    """A stored value as the export shows it: JSON, ciphertext labelled, credentials
    withheld."""
    if value is None:
        return None
    if declaration.category == "credential":
        return {"withheld": CREDENTIAL_NOTE}
    if declaration.category == "e2ee_content" and is_ciphertext(value):
        return {"ciphertext": to_json(value), "note": E2EE_NOTE}
    return to_json(value)


def is_ciphertext(value: Any) -> bool:
    """Whether a content value is an encrypted envelope (not an event the server wrote)."""
    return isinstance(value, Mapping) and "ciphertext" in value


def to_json(value: Any) -> Any:
    """``value`` with times as ISO 8601 (UTC, ``Z``) and bytes as base64."""
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def iso(moment: dt.datetime) -> str:
    """A UTC time as ISO 8601 with ``Z``."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.replace(tzinfo=None).isoformat() + "Z"


def _table(name: str) -> Table:
    return Base.metadata.tables[name]
