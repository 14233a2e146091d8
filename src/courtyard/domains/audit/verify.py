"""``verify_log``: re-derive the log from the database and say everything that does not add
up — edited, deleted, reordered, inserted or cut-off entries, bad or inconsistent signed heads
(docs/audit-log.md, "Verifying")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select

from courtyard.db import Database
from courtyard.domains.audit.append import HEAD_ID
from courtyard.domains.audit.leaves import encode_entry, leaf_hash
from courtyard.domains.audit.merkle import Frontier
from courtyard.domains.audit.models import AuditEntry, AuditLogHead, AuditTreeHead
from courtyard.domains.audit.moves import Suspect, explain_moves
from courtyard.domains.audit.report import Finding, VerifyReport
from courtyard.domains.audit.signing import SignedHead, format_time, verify_head

PAGE = 2000
MAX_SUSPECTS = 10_000  # rows whose hash fails, analysed for moves; beyond it, reported as is


@dataclass
class _Scan:
    """The state of one pass over the entries."""

    sizes: set[int]
    frontier: Frontier = field(default_factory=Frontier)
    roots: dict[int, bytes] = field(default_factory=dict)
    suspects: list[Suspect] = field(default_factory=list)
    gaps: list[tuple[int, int]] = field(default_factory=list)  # [first, last] missing
    findings: list[Finding] = field(default_factory=list)
    next_seq: int = 0

    def add(self, entry: AuditEntry) -> None:
        if entry.seq > self.next_seq:
            self.gaps.append((self.next_seq, entry.seq - 1))
        elif entry.seq < self.next_seq:  # only a negative first position can get here
            self.findings.append(
                Finding("inserted_entry", entry.seq, "an entry sits below position 0")
            )
        self.next_seq = entry.seq + 1
        suspect = Suspect.of(entry)
        if leaf_hash(encode_entry(**suspect.fields(entry.seq))) != entry.leaf_hash:
            if len(self.suspects) < MAX_SUSPECTS:
                self.suspects.append(suspect)
            else:
                self.findings.append(
                    Finding("edited_entry", entry.seq, "the entry does not hash to its leaf")
                )
        self.frontier.append(entry.leaf_hash)
        if self.frontier.size in self.sizes:
            self.roots[self.frontier.size] = self.frontier.root()


async def verify_log(
    db: Database,
    keys: Mapping[str, Ed25519PublicKey],
    *,
    trusted: SignedHead | None = None,
    published: SignedHead | None = None,
) -> VerifyReport:
    """Check every signed head's signature, every entry's leaf hash and position, and that
    the log gives each trusted root: the stored heads', ``trusted`` (a head an auditor kept
    from an earlier run) and ``published`` (the head the server serves now)."""
    findings: list[Finding] = []
    heads = await _read_heads(db)
    good = [head for head in heads if _signature_ok(head, keys, "signed head", findings)]
    outside = [(h, label) for h, label in ((trusted, "trusted"), (published, "published")) if h]
    outside = [(h, label) for h, label in outside if _signature_ok(h, keys, label, findings)]
    scan = _Scan(sizes={h.tree_size for h in good} | {h.tree_size for h, _ in outside})
    counter, last_seq = await _read_counter(db)
    await _scan_entries(db, scan)
    findings += scan.findings
    findings += _gap_findings(scan.gaps)
    findings += explain_moves(scan.suspects, scan.gaps)
    findings += _head_findings(good, scan)
    for head, label in outside:
        findings += _outside_findings(head, label, scan, heads)
    findings += _counter_findings(counter, last_seq)
    size = scan.frontier.size
    matching = [h for h in good if scan.roots.get(h.tree_size) == h.root_hash]
    findings.sort(key=lambda f: (-1 if f.seq is None else f.seq, f.kind))
    return VerifyReport(
        size=size,
        heads=len(heads),
        latest=matching[-1] if matching else None,
        findings=tuple(findings),
    )


async def _read_counter(db: Database) -> tuple[int | None, int | None]:
    """The append counter and the last position, read in one statement (one snapshot), so
    an append committing meanwhile cannot make them disagree."""
    counter = select(AuditLogHead.size).where(AuditLogHead.head_id == HEAD_ID)
    last = select(func.max(AuditEntry.seq))
    async with db.read() as session:
        row = (
            await session.execute(select(counter.scalar_subquery(), last.scalar_subquery()))
        ).one()
    return row[0], row[1]


async def _scan_entries(db: Database, scan: _Scan) -> None:
    """Every entry in position order, a page at a time."""
    after: int | None = None
    while True:
        query = select(AuditEntry).order_by(AuditEntry.seq).limit(PAGE)
        if after is not None:
            query = query.where(AuditEntry.seq > after)
        async with db.read() as session:
            page = list(await session.scalars(query))
        for entry in page:
            scan.add(entry)
        if len(page) < PAGE:
            return
        after = page[-1].seq


async def _read_heads(db: Database) -> list[SignedHead]:
    async with db.read() as session:
        rows = await session.scalars(select(AuditTreeHead).order_by(AuditTreeHead.tree_size))
        return [
            SignedHead(r.tree_size, r.root_hash, r.signed_at, r.key_id, r.signature) for r in rows
        ]


def _signature_ok(
    head: SignedHead, keys: Mapping[str, Ed25519PublicKey], label: str, findings: list[Finding]
) -> bool:
    verified = verify_head(head, keys)
    if verified is None:
        findings.append(
            Finding(
                "unknown_key",
                head.tree_size,
                f"the {label} at size {head.tree_size} names key {head.key_id!r}, which the "
                "verifier does not hold; it is not trusted",
            )
        )
    elif not verified:
        findings.append(
            Finding(
                "bad_signature",
                head.tree_size,
                f"the {label} at size {head.tree_size} does not carry a valid signature: its "
                "size, root or time was altered, or it was forged",
            )
        )
    return bool(verified)


def _gap_findings(gaps: list[tuple[int, int]]) -> list[Finding]:
    return [
        Finding(
            "missing_entry",
            first,
            f"no entry at seq {first}" if first == last else f"no entries at seq {first}..{last}",
        )
        for first, last in gaps
    ]


def _head_findings(heads: list[SignedHead], scan: _Scan) -> list[Finding]:
    """Each trusted head against the log: cut off below it, or a different root."""
    size = scan.frontier.size
    findings: list[Finding] = []
    beyond = [h for h in heads if h.tree_size > size]
    if beyond:
        head = beyond[-1]
        findings.append(
            Finding(
                "truncated",
                size,
                f"the log holds {size} entries, but a head signed at "
                f"{format_time(head.signed_at)} covers {head.tree_size}",
            )
        )
    within = [h for h in heads if h.tree_size <= size]
    matches = [scan.roots.get(h.tree_size) == h.root_hash for h in within]
    last_good = 0
    reported = False
    for i, (head, match) in enumerate(zip(within, matches, strict=True)):
        if match:
            last_good = head.tree_size
            continue
        if reported:
            continue
        reported = True
        later = sum(1 for m in matches[i + 1 :] if not m)
        also = f"; {later} later head(s) disagree too" if later else ""
        if any(matches[i + 1 :]):
            findings.append(
                Finding(
                    "inconsistent_heads",
                    head.tree_size,
                    f"the head signed at size {head.tree_size} disagrees with a later signed "
                    f"head that matches the log: the log below {head.tree_size} was rewritten "
                    f"and signed again{also}",
                )
            )
        else:
            findings.append(
                Finding(
                    "root_mismatch",
                    head.tree_size,
                    f"entries 0..{head.tree_size - 1} no longer give the root signed at size "
                    f"{head.tree_size}: an entry at seq {last_good}..{head.tree_size - 1} "
                    f"changed{also}",
                )
            )
    return findings


def _outside_findings(
    head: SignedHead, label: str, scan: _Scan, stored: list[SignedHead]
) -> list[Finding]:
    """A head from outside the database (the auditor's state file, the server's API)."""
    size = scan.frontier.size
    when = format_time(head.signed_at)
    if head.tree_size > size:
        return [
            Finding(
                "truncated",
                size,
                f"the log holds {size} entries, below the {label} head of size "
                f"{head.tree_size} signed at {when}",
            )
        ]
    if scan.roots.get(head.tree_size) != head.root_hash:
        return [
            Finding(
                "inconsistent_heads",
                head.tree_size,
                f"the log does not give the root of the {label} head of size {head.tree_size} "
                f"signed at {when}",
            )
        ]
    if label == "trusted" and head.tree_size not in {h.tree_size for h in stored}:
        return [
            Finding(
                "missing_head",
                head.tree_size,
                f"the head of size {head.tree_size} verified before ({when}) is gone from "
                "the database",
            )
        ]
    return []


def _counter_findings(counter: int | None, last_seq: int | None) -> list[Finding]:
    """``audit_log_head.size`` is the next position the append path hands out."""
    end = -1 if last_seq is None else int(last_seq)
    if counter is None:  # a restored or emptied database; the next append re-creates it
        return []
    if counter <= end:
        return [
            Finding(
                "inserted_entry",
                int(counter),
                f"{_positions(int(counter), end)} beyond the append counter ({counter}): "
                "written around the append path",
            )
        ]
    if counter > end + 1:
        return [
            Finding(
                "truncated",
                end + 1,
                f"{counter} entries were appended, but the log ends at seq {end}",
            )
        ]
    return []


def _positions(first: int, last: int) -> str:
    return f"the entry at seq {first} lies" if first == last else f"entries {first}..{last} lie"
