"""Explaining entries whose leaf hash fails: an entry's encoding includes its position, so a
row that hashes correctly at another position was moved there. Moves that form cycles are
reorders; a run of rows moved up by ``d`` means ``d`` entries were inserted before it; moved
down, that entries were deleted and the rest renumbered. The rest were edited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Any

from courtyard.domains.audit.leaves import encode_entry, leaf_hash
from courtyard.domains.audit.report import Finding

if TYPE_CHECKING:
    from courtyard.domains.audit.models import AuditEntry

NEAR = 16  # positions tried on each side of a row
FAR_LIMIT = 64  # with this many suspects or fewer, every suspect's position is tried too


@dataclass(frozen=True, slots=True)
class Suspect:
    """A row as read, enough to re-encode it at any position."""

    seq: int
    entry_id: str
    at: dt.datetime
    actor: str
    action: str
    target: str
    subject_user_id: str | None
    note: str | None
    detail: dict[str, Any] | None
    leaf_hash: bytes

    @classmethod
    def of(cls, entry: AuditEntry) -> Suspect:
        return cls(
            entry.seq, entry.entry_id, entry.at, entry.actor, entry.action, entry.target,
            entry.subject_user_id, entry.note, entry.detail, entry.leaf_hash,
        )  # fmt: skip

    def fields(self, seq: int) -> dict[str, Any]:
        """``encode_entry``'s arguments for this row placed at ``seq``."""
        return {
            "seq": seq, "entry_id": self.entry_id, "at": self.at, "actor": self.actor,
            "action": self.action, "target": self.target,
            "subject_user_id": self.subject_user_id, "note": self.note, "detail": self.detail,
        }  # fmt: skip

    def hashes_at(self, seq: int) -> bool:
        return leaf_hash(encode_entry(**self.fields(seq))) == self.leaf_hash


def _candidates(seq: int, pool: list[int]) -> Iterator[int]:
    near = chain.from_iterable((seq - d, seq + d) for d in range(1, NEAR + 1))
    return (c for c in chain(near, pool) if c >= 0 and c != seq)


def _cycles(origins: dict[int, int]) -> set[int]:
    """The positions whose moves form closed cycles (each came from another in the set)."""
    state: dict[int, bool] = {}  # True while on the current path
    found: set[int] = set()
    for start in origins:
        path: list[int] = []
        at = start
        while at in origins and at not in state:
            state[at] = True
            path.append(at)
            at = origins[at]
        if state.get(at):
            found.update(path[path.index(at) :])
        for position in path:
            state[position] = False
    return found


def _runs(shifted: list[tuple[int, int]]) -> Iterator[tuple[int, int, int]]:
    """``(first, count, offset)`` for each run of consecutive positions moved alike."""
    first = count = offset = 0
    for seq, d in shifted:
        if count and seq == first + count and d == offset:
            count += 1
            continue
        if count:
            yield first, count, offset
        first, count, offset = seq, 1, d
    if count:
        yield first, count, offset


def explain_moves(suspects: list[Suspect], gaps: list[tuple[int, int]]) -> list[Finding]:
    """Findings for the rows whose leaf hash fails (``gaps``: the missing positions)."""
    missing = {p for first, last in gaps for p in range(first, min(last, first + FAR_LIMIT) + 1)}
    pool: list[int] = []
    if len(suspects) + len(missing) <= FAR_LIMIT:
        pool = sorted({s.seq for s in suspects} | missing)
    origins: dict[int, int] = {}
    for suspect in suspects:
        origin = next((c for c in _candidates(suspect.seq, pool) if suspect.hashes_at(c)), None)
        if origin is not None:
            origins[suspect.seq] = origin
    reordered = _cycles(origins) | {s for s, origin in origins.items() if origin in missing}
    findings = [
        Finding("reordered_entry", s, f"the entry at seq {s} was appended at seq {origins[s]}")
        for s in sorted(reordered)
    ]
    shifted = sorted((s, s - o) for s, o in origins.items() if s not in reordered)
    inserted: set[int] = set()
    for first, count, offset in _runs(shifted):
        if offset > 0:
            for position in range(first - offset, first):
                inserted.add(position)
                findings.append(
                    Finding(
                        "inserted_entry",
                        position,
                        f"an entry was inserted at seq {position}: the {count} entries from "
                        f"seq {first} on hash as if {offset} position(s) lower",
                    )
                )
        else:
            last = first - offset - 1
            findings.append(
                Finding(
                    "missing_entry",
                    first,
                    f"the entries first at seq {first}..{last} were deleted and the {count} "
                    f"entries after them renumbered down by {-offset}",
                )
            )
    findings += [
        Finding("edited_entry", s.seq, "the entry's fields no longer hash to its leaf hash")
        for s in suspects
        if s.seq not in origins and s.seq not in inserted
    ]
    return findings
