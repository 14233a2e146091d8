"""``verify_log`` against a log someone with write access to the database tampered with, past
the append-only triggers: every kind of tampering shows as its finding, an untouched log
verifies clean, and the server refuses to sign over a changed history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, func, insert, select, text, update

from courtyard.domains.audit import (
    AuditEntry,
    AuditKeyring,
    AuditLogBroken,
    AuditLogHead,
    AuditTreeHead,
    Finding,
    SignedHead,
    VerifyReport,
    verify_log,
)
from courtyard.domains.audit.merkle import tree_hash
from tests.integration.audit_support import Audit, entry_at, make_audit, rehash, renumber, tampering

SIZE = 12  # entries; heads are signed at 5 and at 12


@pytest.fixture
async def audit(database_url: str, tmp_path: Path) -> AsyncIterator[Audit]:
    async with make_audit(database_url, tmp_path / "data") as made:
        await made.append(5)
        assert await made.log.sign_tree_head() is not None
        await made.append(SIZE - 5)
        made.clock.advance(minutes=1)
        assert await made.log.sign_tree_head() is not None
        yield made


async def verify(audit: Audit, **heads: SignedHead | None) -> VerifyReport:
    return await verify_log(audit.db, audit.log.keyring.public_keys, **heads)


def kinds(report: VerifyReport) -> set[tuple[str, int | None]]:
    return {(f.kind, f.seq) for f in report.findings}


async def head_at(audit: Audit, size: int) -> SignedHead:
    [head] = [h for h in await audit.log.get_heads() if h.tree_size == size]
    return head


async def test_an_untouched_log_verifies_clean(audit: Audit) -> None:
    report = await verify(audit)

    assert report.ok
    assert report.findings == ()
    assert (report.size, report.heads) == (SIZE, 2)
    assert report.latest == await head_at(audit, SIZE)
    trusted = await head_at(audit, 5)
    assert (await verify(audit, trusted=trusted, published=report.latest)).ok


async def test_an_edited_entry_no_longer_hashes_to_its_leaf(audit: Audit) -> None:
    async with tampering(audit.db) as session:
        await session.execute(
            update(AuditEntry).where(AuditEntry.seq == 3).values(note="nothing to see")
        )

    report = await verify(audit)

    assert [(f.kind, f.seq) for f in report.findings] == [("edited_entry", 3)]


async def test_an_edit_with_its_leaf_hash_recomputed_breaks_the_signed_roots(
    audit: Audit,
) -> None:
    async with tampering(audit.db) as session:
        row = await entry_at(session, 3)
        row.target = "user:someone-else"
        row.leaf_hash = rehash(row)

    report = await verify(audit)

    assert [(f.kind, f.seq) for f in report.findings] == [("root_mismatch", 5)]
    assert "seq 0..4 changed; 1 later head(s) disagree too" in report.findings[0].message


async def test_a_deleted_entry_leaves_a_gap(audit: Audit) -> None:
    async with tampering(audit.db) as session:
        await session.execute(delete(AuditEntry).where(AuditEntry.seq == 7))

    report = await verify(audit)

    assert kinds(report) == {("missing_entry", 7), ("truncated", SIZE - 1)}  # below head 12


async def test_a_deletion_hidden_by_renumbering_is_still_found(audit: Audit) -> None:
    async with tampering(audit.db) as session:
        await session.execute(delete(AuditEntry).where(AuditEntry.seq == 7))
        await renumber(session, 8, -1)

    report = await verify(audit)

    assert ("missing_entry", 7) in kinds(report)
    assert "renumbered down by 1" in next(f.message for f in report.findings if f.seq == 7)
    assert ("truncated", SIZE - 1) in kinds(report)


async def test_swapped_entries_are_reported_as_reordered(audit: Audit) -> None:
    async with tampering(audit.db) as session:
        await session.execute(update(AuditEntry).where(AuditEntry.seq == 9).values(seq=-9))
        await session.execute(update(AuditEntry).where(AuditEntry.seq == 10).values(seq=9))
        await session.execute(update(AuditEntry).where(AuditEntry.seq == -9).values(seq=10))

    report = await verify(audit)

    assert {("reordered_entry", 9), ("reordered_entry", 10)} <= kinds(report)
    assert not {kind for kind, _ in kinds(report)} & {"edited_entry", "missing_entry"}


async def test_an_entry_inserted_mid_log_is_found_at_its_position(audit: Audit) -> None:
    async with tampering(audit.db) as session:
        model = await entry_at(session, 2)
        await renumber(session, 4, +1)
        forged = {
            "seq": 4, "entry_id": "forged-entry", "at": model.at, "actor": "system",
            "action": "privacy.consent.given", "target": "user:u-alice",
            "subject_user_id": "u-alice", "note": None, "detail": None,
        }  # fmt: skip
        forged["leaf_hash"] = rehash(AuditEntry(**forged))
        await session.execute(insert(AuditEntry).values(**forged))

    report = await verify(audit)

    assert ("inserted_entry", 4) in kinds(report)
    assert ("edited_entry", 4) not in kinds(report)
    assert ("root_mismatch", 5) in kinds(report)


async def test_an_entry_written_around_the_append_path_is_found(audit: Audit) -> None:
    async with tampering(audit.db) as session:
        model = await entry_at(session, SIZE - 1)
        row = AuditEntry(
            seq=SIZE, entry_id="late-entry", at=model.at, actor="system", action="x",
            target="y", subject_user_id=None, note=None, detail=None,
        )  # fmt: skip
        row.leaf_hash = rehash(row)
        session.add(row)

    report = await verify(audit)

    assert [(f.kind, f.seq) for f in report.findings] == [("inserted_entry", SIZE)]


async def test_a_log_cut_below_its_latest_head_is_truncated(audit: Audit) -> None:
    async with tampering(audit.db) as session:
        await session.execute(delete(AuditEntry).where(AuditEntry.seq >= 8))
        await session.execute(update(AuditLogHead).values(size=8))

    report = await verify(audit)

    assert [(f.kind, f.seq) for f in report.findings] == [("truncated", 8)]
    assert "covers 12" in report.findings[0].message


async def test_a_cut_hidden_from_the_database_shows_against_the_auditors_trusted_head(
    audit: Audit,
) -> None:
    trusted = (await verify(audit)).latest
    assert trusted is not None
    async with tampering(audit.db) as session:
        await session.execute(delete(AuditEntry).where(AuditEntry.seq >= 8))
        await session.execute(delete(AuditTreeHead).where(AuditTreeHead.tree_size > 5))
        await session.execute(update(AuditLogHead).values(size=8))
    assert (await verify(audit)).ok  # the database alone now looks consistent

    report = await verify(audit, trusted=trusted)

    assert [(f.kind, f.seq) for f in report.findings] == [("truncated", 8)]
    assert "trusted head of size 12" in report.findings[0].message


@pytest.mark.parametrize("column", ["root_hash", "tree_size", "signed_at"])
async def test_an_altered_head_fails_its_signature(audit: Audit, column: str) -> None:
    head = await head_at(audit, SIZE)
    changed = {
        "root_hash": bytes(32),
        "tree_size": SIZE - 1,
        "signed_at": head.signed_at.replace(year=2020),
    }[column]
    async with tampering(audit.db) as session:
        await session.execute(
            update(AuditTreeHead).where(AuditTreeHead.tree_size == SIZE).values({column: changed})
        )

    report = await verify(audit)

    assert "bad_signature" in {f.kind for f in report.findings}
    assert report.latest == await head_at(audit, 5)


async def test_a_head_signed_by_another_key_is_not_trusted(audit: Audit) -> None:
    await audit.append(1)
    async with audit.db.read() as session:
        leaves = list(await session.scalars(select(AuditEntry.leaf_hash).order_by(AuditEntry.seq)))
    forger = AuditKeyring(Ed25519PrivateKey.generate())
    forged = forger.sign(len(leaves), tree_hash(leaves), audit.clock.now())
    async with audit.db.transaction() as tx:
        await tx.session.execute(
            insert(AuditTreeHead).values(
                tree_size=forged.tree_size, root_hash=forged.root_hash,
                signed_at=forged.signed_at, key_id=forged.key_id, signature=forged.signature,
            )
        )  # fmt: skip

    report = await verify(audit)

    assert [(f.kind, f.seq) for f in report.findings] == [("unknown_key", SIZE + 1)]


async def test_a_rewritten_history_signed_again_contradicts_the_older_heads(
    audit: Audit,
) -> None:
    # Someone holding the database and the key edits entry 3, fixes its leaf hash and signs
    # a new head over the result; the server's own signer would have refused.
    async with tampering(audit.db) as session:
        row = await entry_at(session, 3)
        row.note = "rewritten"
        row.leaf_hash = rehash(row)
    await audit.append(1)
    with pytest.raises(AuditLogBroken, match="no longer gives the root signed at size 12"):
        await audit.node().sign_tree_head()
    assert await audit.node().sign_if_grown() == 0
    async with audit.db.read() as session:
        leaves = list(await session.scalars(select(AuditEntry.leaf_hash).order_by(AuditEntry.seq)))
    resigned = audit.log.keyring.sign(len(leaves), tree_hash(leaves), audit.clock.now())
    async with audit.db.transaction() as tx:
        await tx.session.execute(insert(AuditTreeHead).values(**resigned_row(resigned)))

    report = await verify(audit)

    assert [(f.kind, f.seq) for f in report.findings] == [("inconsistent_heads", 5)]
    assert report.latest == resigned


async def test_a_wholly_resigned_log_contradicts_the_head_an_auditor_kept(audit: Audit) -> None:
    trusted = (await verify(audit)).latest
    async with tampering(audit.db) as session:
        row = await entry_at(session, 3)
        row.note = "rewritten"
        row.leaf_hash = rehash(row)
        await session.execute(delete(AuditTreeHead))
    assert await audit.node().sign_tree_head() is not None  # nothing left to contradict
    assert (await verify(audit)).ok

    report = await verify(audit, trusted=trusted)

    assert [(f.kind, f.seq) for f in report.findings] == [("inconsistent_heads", SIZE)]
    assert "trusted head" in report.findings[0].message


async def test_a_deleted_head_the_auditor_verified_before_is_missed(audit: Audit) -> None:
    trusted = (await verify(audit)).latest
    async with tampering(audit.db) as session:
        await session.execute(delete(AuditTreeHead).where(AuditTreeHead.tree_size == SIZE))

    report = await verify(audit, trusted=trusted)

    assert [(f.kind, f.seq) for f in report.findings] == [("missing_head", SIZE)]


async def test_a_published_head_the_log_does_not_match_is_inconsistent(audit: Audit) -> None:
    other = audit.log.keyring.sign(SIZE, bytes(32), audit.clock.now())

    report = await verify(audit, published=other)

    assert report.findings == (
        Finding(
            "inconsistent_heads",
            SIZE,
            f"the log does not give the root of the published head of size {SIZE} signed at "
            f"{other.as_json()['signed_at']}",
        ),
    )


async def test_the_append_path_still_works_after_the_checks(audit: Audit) -> None:
    # Verification only reads: the next append lands at the next position.
    await verify(audit)
    assert await audit.append(1) == [SIZE]
    async with audit.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == SIZE + 1
        assert await session.scalar(text("SELECT size FROM audit_log_head")) == SIZE + 1


def resigned_row(head: SignedHead) -> dict[str, object]:
    return {
        "tree_size": head.tree_size,
        "root_hash": head.root_hash,
        "signed_at": head.signed_at,
        "key_id": head.key_id,
        "signature": head.signature,
    }
