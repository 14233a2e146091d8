"""The audit log's service: signing tree heads, serving heads and proofs, listing entries for
operators and for the user they concern, verifying (docs/audit-log.md, "Service")."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.clock import Clock
from courtyard.db import Database
from courtyard.domains.audit.append import HEAD_ID, append_audit_entry
from courtyard.domains.audit.entries import AuditEntryView, EntryFilter, get_entries
from courtyard.domains.audit.errors import AuditLogBroken, InvalidTreeSize, NoTreeHead
from courtyard.domains.audit.merkle import TreeCache
from courtyard.domains.audit.models import AuditEntry, AuditLogHead, AuditTreeHead
from courtyard.domains.audit.report import VerifyReport
from courtyard.domains.audit.signing import AuditKeyring, SignedHead
from courtyard.domains.audit.verify import verify_log

log = logging.getLogger(__name__)
READ_PAGE = 10_000
MAX_HEADS_PAGE = 100


def _head(row: AuditTreeHead) -> SignedHead:
    return SignedHead(row.tree_size, row.root_hash, row.signed_at, row.key_id, row.signature)


async def get_latest_head(db: Database) -> SignedHead | None:
    """The latest signed tree head, or None before the first."""
    async with db.read() as session:
        row = await session.scalar(
            select(AuditTreeHead).order_by(AuditTreeHead.tree_size.desc()).limit(1)
        )
    return _head(row) if row is not None else None


async def _store(session: AsyncSession, head: SignedHead) -> None:
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    await session.execute(
        insert(AuditTreeHead)
        .values(
            tree_size=head.tree_size,
            root_hash=head.root_hash,
            signed_at=head.signed_at,
            key_id=head.key_id,
            signature=head.signature,
        )
        .on_conflict_do_nothing(index_elements=["tree_size"])
    )


class AuditLog:
    """One node's view of the log. It keeps the leaf hashes it has read (32 bytes an entry)
    and the roots of complete subtrees, so signing and proofs read only new entries."""

    def __init__(self, db: Database, clock: Clock, keyring: AuditKeyring) -> None:
        self.db = db
        self.clock = clock
        self.keyring = keyring
        self._tree = TreeCache()
        self._checked_size = 0  # the largest stored head this node has matched its leaves to
        self._lock = asyncio.Lock()

    async def _extend(self, upto: int | None = None) -> None:
        """Read leaf hashes after the cached ones (up to position ``upto`` if given);
        ``AuditLogBroken`` if positions have a gap."""
        while upto is None or len(self._tree) < upto:
            query = (
                select(AuditEntry.seq, AuditEntry.leaf_hash)
                .where(AuditEntry.seq >= len(self._tree))
                .order_by(AuditEntry.seq)
                .limit(READ_PAGE if upto is None else min(READ_PAGE, upto - len(self._tree)))
            )
            async with self.db.read() as session:
                rows = (await session.execute(query)).all()
            for seq, digest in rows:
                if seq != len(self._tree):
                    raise AuditLogBroken(f"the audit log has no entry at seq {len(self._tree)}")
                self._tree.leaves.append(digest)
            if len(rows) < READ_PAGE:
                break

    async def _check_against(self, head: SignedHead) -> None:
        if head.tree_size > len(self._tree):
            raise AuditLogBroken(
                f"the log holds {len(self._tree)} entries, fewer than the head signed at size "
                f"{head.tree_size}; not signing (run courtyard audit verify)"
            )
        if head.tree_size <= self._checked_size:
            return
        if self._tree.root(head.tree_size) != head.root_hash:
            raise AuditLogBroken(
                f"the log no longer gives the root signed at size {head.tree_size}; not "
                "signing over it (run courtyard audit verify)"
            )
        self._checked_size = head.tree_size

    async def sign_tree_head(self) -> SignedHead | None:
        """Sign the root over every entry and store it, if the log grew since the latest
        stored head (else None). Refuses (``AuditLogBroken``) when the log no longer matches
        the latest head. Safe on many nodes: under the append lock only a larger head is
        stored, so heads grow in size and time."""
        async with self._lock:
            latest = await self.get_latest_head()
            await self._extend()
            if latest is not None:
                await self._check_against(latest)
            size = len(self._tree)
            if size == 0 or (latest is not None and latest.tree_size >= size):
                return None
            root = self._tree.root(size)
            async with self.db.transaction() as tx:
                session = tx.session
                await session.execute(
                    select(AuditLogHead.size)
                    .where(AuditLogHead.head_id == HEAD_ID)
                    .with_for_update()
                )
                largest = await session.scalar(select(func.max(AuditTreeHead.tree_size)))
                if largest is not None and largest >= size:
                    return None  # another node signed this far (or further) meanwhile
                head = self.keyring.sign(size, root, self.clock.now())
                await _store(tx.session, head)
            self._checked_size = size
            return head

    async def sign_if_grown(self) -> int:
        """The periodic job: sign a head if the log grew; returns the size signed (0 if
        none). A log that no longer matches its heads is logged, not signed."""
        try:
            head = await self.sign_tree_head()
        except AuditLogBroken as exc:
            log.error("audit log not signed: %s", exc.detail)
            return 0
        return head.tree_size if head else 0

    async def get_latest_head(self) -> SignedHead | None:
        return await get_latest_head(self.db)

    async def access_latest_head(self) -> SignedHead:
        """The latest signed head; ``NoTreeHead`` before the first."""
        head = await self.get_latest_head()
        if head is None:
            raise NoTreeHead()
        return head

    async def get_heads(self, after: int = 0, limit: int = MAX_HEADS_PAGE) -> list[SignedHead]:
        """Signed heads with ``tree_size > after``, oldest first."""
        query = (
            select(AuditTreeHead)
            .where(AuditTreeHead.tree_size > max(after, -1))
            .order_by(AuditTreeHead.tree_size)
            .limit(max(1, min(limit, MAX_HEADS_PAGE)))
        )
        async with self.db.read() as session:
            return [_head(row) for row in await session.scalars(query)]

    async def _signed_size(self, *sizes: int) -> int:
        latest = await self.get_latest_head()
        signed = latest.tree_size if latest else 0
        if any(not 0 <= size <= signed for size in sizes):
            raise InvalidTreeSize(
                f"sizes must lie between 1 and the latest signed tree size ({signed})",
                latest_tree_size=signed,
            )
        return signed

    async def get_consistency_proof(self, first: int, second: int) -> list[bytes]:
        """The proof that the tree of size ``first`` is a prefix of the tree of size
        ``second``; ``InvalidTreeSize`` unless ``1 <= first <= second <=`` the latest signed
        size."""
        if not 1 <= first <= second:
            raise InvalidTreeSize("first must be at least 1 and at most second")
        await self._signed_size(first, second)
        async with self._lock:
            await self._extend(second)
            if len(self._tree) < second:
                raise AuditLogBroken(f"the audit log holds fewer than {second} entries")
            return self._tree.consistency_proof(first, second)

    async def get_inclusion_proof(self, seq: int, tree_size: int) -> list[bytes]:
        """The audit path of entry ``seq`` in the signed tree of size ``tree_size``."""
        if not 0 <= seq < tree_size:
            raise InvalidTreeSize("seq must lie inside the tree")
        await self._signed_size(tree_size)
        async with self._lock:
            await self._extend(tree_size)
            if len(self._tree) < tree_size:
                raise AuditLogBroken(f"the audit log holds fewer than {tree_size} entries")
            return self._tree.inclusion_proof(seq, tree_size)

    async def get_entries(
        self, filters: EntryFilter, *, before: int | None = None, limit: int = 100
    ) -> list[AuditEntryView]:
        """Entries for operators, newest first (the caller checks the operator's role)."""
        return await get_entries(self.db, filters, before=before, limit=limit)

    async def entries_about(
        self, user_id: str, *, before: int | None = None, limit: int = 100
    ) -> list[AuditEntryView]:
        """Every entry about ``user_id``, newest first, for operators — including entries of
        a legal case under a non-disclosure order. What the user sees is the privacy domain's
        access log, which leaves those out until notice (docs/data-map.md)."""
        return await get_entries(
            self.db, EntryFilter(subject_user_id=user_id), before=before, limit=limit
        )

    async def verify(
        self, *, trusted: SignedHead | None = None, published: SignedHead | None = None
    ) -> VerifyReport:
        """``verify_log`` with this node's keys."""
        return await verify_log(
            self.db, self.keyring.public_keys, trusted=trusted, published=published
        )

    async def do_verify(self, actor: str) -> VerifyReport:
        """Verify the log now on ``actor``'s request and record that it was run, and what it
        found, as an entry of its own (after the report, so the report covers what came
        before)."""
        report = await self.verify()
        async with self.db.transaction() as tx:
            await append_audit_entry(
                tx,
                self.clock,
                actor=actor,
                action="audit.verify",
                target="audit_log",
                note="intact" if report.ok else f"{len(report.findings)} finding(s)",
                detail={"size": report.size, "kinds": sorted({f.kind for f in report.findings})},
            )
        return report

    def published_keys(self) -> list[dict[str, str]]:
        return self.keyring.published()
