"""What a verification found: a report of findings (docs/audit-log.md, "Verifying")."""

from __future__ import annotations

from dataclasses import dataclass

from courtyard.domains.audit.signing import SignedHead

KINDS = (
    "edited_entry", "missing_entry", "reordered_entry", "inserted_entry", "truncated",
    "root_mismatch", "bad_signature", "unknown_key", "inconsistent_heads", "missing_head",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong: its kind (one of ``KINDS``), the position it concerns (an entry's
    seq, or a head's tree size), and what was seen."""

    kind: str
    seq: int | None
    message: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What ``verify_log`` read and found; ``latest`` is the newest head that verified and
    matches the log (what an auditor may trust next time)."""

    size: int
    heads: int
    latest: SignedHead | None
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.findings
