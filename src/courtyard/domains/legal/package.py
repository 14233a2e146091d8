"""The disclosure package: a zip with one JSON file per approved category (for included
targets, within the approved dates), the end-to-end encryption statement, a manifest of
every file's SHA-256 and a detached Ed25519 signature over it (docs/legal-desk.md, "The
package")."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import zipfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.domains.accounts import get_connection_records, get_subscriber_record
from courtyard.domains.legal.models import LegalCase, LegalCaseTarget
from courtyard.domains.legal.rules import CATEGORIES, CATEGORY_TABLES
from courtyard.domains.legal.signing import PackageSigner
from courtyard.domains.media import BlobStore, get_user_media, read_stored_blob
from courtyard.domains.messaging import get_message_envelopes, get_message_metadata
from courtyard.domains.wallet import get_transaction_records

FORMAT = "courtyard.legal-package.v1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
STATEMENT_FILE = "STATEMENT.txt"
STATEMENT = (
    "Courtyard is end-to-end encrypted. The operator holds no keys that can decrypt this "
    "content; it is provided exactly as stored.\n"
)
Window = tuple[dt.datetime | None, dt.datetime | None]
Collector = Callable[[AsyncSession, BlobStore, str, Window], Awaitable[Any]]


def window(date_from: dt.date | None, date_to: dt.date | None) -> Window:
    """Inclusive UTC days → ``[start, end)``."""
    start = dt.datetime.combine(date_from, dt.time(), dt.UTC) if date_from else None
    end = (
        dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), dt.UTC) if date_to else None
    )
    return start, end


async def _subscriber(session: AsyncSession, _b: BlobStore, user_id: str, _w: Window) -> Any:
    return await get_subscriber_record(session, user_id)


async def _connections(session: AsyncSession, _b: BlobStore, user_id: str, w: Window) -> Any:
    return await get_connection_records(session, user_id, *w)


async def _transactions(session: AsyncSession, _b: BlobStore, user_id: str, w: Window) -> Any:
    return await get_transaction_records(session, user_id, *w)


async def _metadata(session: AsyncSession, _b: BlobStore, user_id: str, w: Window) -> Any:
    return await get_message_metadata(session, user_id, *w)


async def _content(session: AsyncSession, blobs: BlobStore, user_id: str, w: Window) -> Any:
    media = []
    for row in await get_user_media(session, user_id, *w):
        stored = await read_stored_blob(blobs, row["media_id"])
        media.append(
            {**row, "ciphertext_base64": base64.b64encode(stored).decode() if stored else None}
        )
    return {"messages": await get_message_envelopes(session, user_id, *w), "media": media}


COLLECTORS: dict[str, Collector] = {
    "subscriber": _subscriber,
    "connection_logs": _connections,
    "transactions": _transactions,
    "message_metadata": _metadata,
    "content": _content,
}


def _json(value: Any) -> bytes:
    return json.dumps(value, default=_wire, indent=2, sort_keys=True, ensure_ascii=False).encode()


def _wire(value: object) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


async def collect(
    session: AsyncSession, blobs: BlobStore, case: LegalCase, targets: Sequence[LegalCaseTarget]
) -> dict[str, bytes]:
    """``<category>.json`` for each approved category, in one read snapshot."""
    scope = window(case.approved_from, case.approved_to)
    included = [t for t in targets if t.decision == "included" and t.user_id is not None]
    files = {}
    for category in [c for c in CATEGORIES if c in (case.approved_categories or [])]:
        sections = []
        for target in included:
            assert target.user_id is not None
            records = await COLLECTORS[category](session, blobs, target.user_id, scope)
            sections.append(
                {
                    "target_no": target.target_no,
                    "identifier": target.identifier,
                    "user_id": target.user_id,
                    "records": records,
                }
            )
        files[f"{category}.json"] = _json(
            {
                "category": category,
                "tables": list(CATEGORY_TABLES[category]),
                "date_from": case.approved_from,
                "date_to": case.approved_to,
                "targets": sections,
            }
        )
    return files


@dataclass(frozen=True, slots=True)
class Built:
    archive: bytes
    manifest: bytes
    signature: bytes
    sha256: str


def manifest_of(
    case: LegalCase,
    targets: Sequence[LegalCaseTarget],
    files: dict[str, bytes],
    *,
    package_id: str,
    created_at: dt.datetime,
    key_id: str,
) -> bytes:
    return _json(
        {
            "format": FORMAT,
            "package_id": package_id,
            "created_at": created_at,
            "key_id": key_id,
            "case": {
                "case_id": case.case_id,
                "reference": case.reference,
                "authority": case.authority,
                "country": case.country,
                "process_type": case.process_type,
                "authority_reference": case.authority_reference,
                "received_at": case.received_at,
            },
            "scope": {
                "categories": [c for c in CATEGORIES if c in (case.approved_categories or [])],
                "date_from": case.approved_from,
                "date_to": case.approved_to,
                "targets": [
                    {"target_no": t.target_no, "identifier": t.identifier, "user_id": t.user_id}
                    for t in targets
                    if t.decision == "included"
                ],
            },
            "files": {
                name: {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
                for name, body in sorted(files.items())
            },
        }
    )


def build(
    case: LegalCase,
    targets: Sequence[LegalCaseTarget],
    categories: dict[str, bytes],
    signer: PackageSigner,
    *,
    package_id: str,
    created_at: dt.datetime,
) -> Built:
    """The signed zip of ``categories`` plus the statement and the manifest."""
    files = {**categories, STATEMENT_FILE: STATEMENT.encode()}
    manifest = manifest_of(
        case, targets, files, package_id=package_id, created_at=created_at, key_id=signer.key_id
    )
    signature = signer.sign(manifest)
    buffer = io.BytesIO()
    stamp = created_at.astimezone(dt.UTC).timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in [(MANIFEST, manifest), (SIGNATURE, signature), *sorted(files.items())]:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, body)
    data = buffer.getvalue()
    return Built(data, manifest, signature, hashlib.sha256(data).hexdigest())
