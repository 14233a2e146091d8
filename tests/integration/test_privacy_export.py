"""A user's export holds every column the data map declares, with the stored value, for every
row of every table whose subject is that user; ciphertext is labelled, credentials withheld,
and each export is itself in the access log (docs/data-map.md). SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import or_, select

from courtyard.core.datamap import Declaration
from courtyard.db import Base
from courtyard.domains.privacy import get_data_map
from courtyard.domains.privacy.export import CREDENTIAL_NOTE, E2EE_NOTE
from tests.client_support import consent_for
from tests.conftest import PASSWORD
from tests.integration.messenger_support import Device, direct
from tests.integration.test_wallet_topups import funded
from tests.integration.wallet_support import PIN, Member, transfer

# Tables the scenario below must fill for the user, so the column check is not vacuous.
FILLED = {
    "users", "usernames", "devices", "access_tokens", "device_keys", "one_time_keys",
    "conversations", "direct_conversations", "conversation_members", "user_conversations",
    "timeline_events", "message_txns", "media", "to_device_inbox", "stream_heads",
    "stream_events", "wallet_pins", "wallet_idempotency", "wallet_user_flows",
    "ledger_accounts", "ledger_account_keys", "ledger_entries", "ledger_postings",
    "transfers", "provider_operations", "provider_callbacks", "audit_log", "user_consents",
    "purpose_consents", "consent_records", "complaints",
}  # fmt: skip


def expected(declaration: Declaration, value: Any) -> Any:
    """How the export must show a stored value."""
    if value is None:
        return None
    if declaration.category == "credential":
        return {"withheld": CREDENTIAL_NOTE}
    if declaration.category == "e2ee_content" and isinstance(value, dict) and "ciphertext" in value:
        return {"ciphertext": value, "note": E2EE_NOTE}
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat() + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def flatten(export: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {name: rows for tables in export["data"].values() for name, rows in tables.items()}


async def stored_rows(
    app: FastAPI, name: str, user_id: str, exported: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The table's rows that belong to the user, found independently of the export code:
    subject columns by equality, links through the keys the export shows for the linked
    table (which this same check verifies in turn)."""
    table = Base.metadata.tables[name]
    subject = get_data_map().tables[name].subject
    conditions = [table.c[c] == user_id for c in subject.columns]
    for link in subject.links:
        keys = {row[link.key] for row in exported[link.table]}
        conditions.append(table.c[link.column].in_(sorted(keys)))
    query = select(table).where(or_(*conditions)).order_by(*table.primary_key.columns)
    async with app.state.runtime.db.read() as session:
        return [dict(row) for row in (await session.execute(query)).mappings()]


async def build_alice(device: Device, client: httpx.AsyncClient, tmp_path: Path) -> Member:
    """Alice through the SDK and the API: devices and keys, a direct conversation with a
    message and a file, a payment PIN, a settled top-up and a transfer to Bob, her consent
    to her region's policy, and a complaint."""
    alice, bob = await device("alice"), await device("bob")
    await device("alice", login=True)  # a second device
    cid = await direct(alice, bob)
    await alice.send_text(cid, "hello bob")
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG not really")
    await alice.send_file(cid, photo)
    headers = {"Authorization": f"Bearer {alice.client.token}"}
    response = await client.put(
        "/v1/wallet/pin", json={"pin": PIN, "password": PASSWORD}, headers=headers
    )
    assert response.status_code == 204, response.text
    me = Member(alice.user_id, headers)
    await funded(client, me, "20.00")
    sent = await transfer(client, me, Member(bob.user_id, {}), "3.00", currency="EUR")
    assert sent.status_code == 201, sent.text
    consent = await consent_for(alice.client, "DE")
    await alice.client.privacy.consent(consent["policy_version_hash"], consent["purposes"])
    complaint = {"subject": "Why keep my payments?", "body": "Tell me, please."}
    filed = await client.post("/v1/privacy/complaints", json=complaint, headers=headers)
    assert filed.status_code == 201, filed.text
    return me


async def export_json(client: httpx.AsyncClient, who: Member) -> dict[str, Any]:
    response = await client.get("/v1/privacy/export", headers=who.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].startswith("attachment;")
    body: dict[str, Any] = response.json()
    return body


async def test_the_export_holds_every_declared_column_of_every_row_of_the_user(
    device: Device, client: httpx.AsyncClient, app: FastAPI, tmp_path: Path
) -> None:
    alice = await build_alice(device, client, tmp_path)
    await export_json(client, alice)  # so the second export shows the first in the log
    export = await export_json(client, alice)
    exported = flatten(export)
    registered = get_data_map()
    personal = {n for n, t in registered.tables.items() if t.subject.personal}
    withheld = {n for n, t in registered.tables.items() if t.subject.withheld}
    assert set(exported) == personal - withheld
    assert {name for name, rows in exported.items() if rows} >= FILLED
    for name, rows in exported.items():
        declared = registered.tables[name].columns
        stored = await stored_rows(app, name, alice.user_id, exported)
        if name == "audit_log":  # this export's own entry, written after it was read
            stored = [r for r in stored if r["seq"] != export["manifest"]["audit_seq"]]
        assert len(rows) == len(stored), name
        for shown, row in zip(rows, stored, strict=True):
            assert set(shown) == set(declared), name
            for column, declaration in declared.items():
                assert shown[column] == expected(declaration, row[column]), (name, column)


async def test_the_manifest_names_the_user_the_time_and_the_map_version(
    device: Device, client: httpx.AsyncClient, app: FastAPI, tmp_path: Path
) -> None:
    alice = await build_alice(device, client, tmp_path)
    manifest = (await export_json(client, alice))["manifest"]
    assert manifest["user"] == {"user_id": alice.user_id, "username": "alice"}
    assert manifest["data_map"]["version"] == get_data_map().version
    now = app.state.runtime.clock.now()
    assert manifest["generated_at"] == now.replace(tzinfo=None).isoformat() + "Z"
    assert set(manifest["withheld"]) == {"legal_case_targets"}


async def test_messages_are_ciphertext_and_nothing_of_bob_leaks_into_alices_export(
    device: Device, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    alice = await build_alice(device, client, tmp_path)
    exported = flatten(await export_json(client, alice))
    messages = [e for e in exported["timeline_events"] if e["type"] == "m.encrypted"]
    assert len(messages) == 2
    for message in messages:
        assert message["content"]["note"] == E2EE_NOTE
        assert "hello bob" not in str(message["content"])
    assert {d["user_id"] for d in exported["devices"]} == {alice.user_id}
    assert all(m["user_id"] == alice.user_id for m in exported["conversation_members"])
    assert exported["users"][0]["password_hash"] == {"withheld": CREDENTIAL_NOTE}
    assert exported["wallet_pins"][0]["pin_hash"] == {"withheld": CREDENTIAL_NOTE}


async def test_each_export_is_an_audit_entry_of_the_user(
    client: httpx.AsyncClient, device: Device, tmp_path: Path
) -> None:
    messenger = await device("carol")
    carol = Member(messenger.user_id, {"Authorization": f"Bearer {messenger.client.token}"})
    await export_json(client, carol)
    response = await client.get("/v1/privacy/export?format=html", headers=carol.headers)
    assert response.status_code == 200
    log = (await client.get("/v1/privacy/access-log", headers=carol.headers)).json()
    assert [(e["action"], e["actor"], e["detail"]) for e in log["entries"]] == [
        ("privacy.export", f"user:{carol.user_id}", {"format": "html"}),
        ("privacy.export", f"user:{carol.user_id}", {"format": "json"}),
    ]
    assert log["next_before"] is None


@pytest.mark.parametrize("query", ["format=xml", "format="])
async def test_an_unknown_format_is_refused(
    client: httpx.AsyncClient, device: Device, query: str
) -> None:
    messenger = await device("dave")
    headers = {"Authorization": f"Bearer {messenger.client.token}"}
    response = await client.get(f"/v1/privacy/export?{query}", headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_export_needs_a_signed_in_user(client: httpx.AsyncClient) -> None:
    for path in ("/v1/privacy/export", "/v1/privacy/access-log"):
        response = await client.get(path)
        assert response.status_code == 401, path
