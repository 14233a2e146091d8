"""The privacy policy's "What we store and why", written from the data map for one policy
region, so the policy cannot say other than what the schema holds (docs/data-map.md)."""

from __future__ import annotations

from collections import defaultdict

from courtyard.core.datamap import Basis, Category, Retention
from courtyard.core.datamap_terms import (
    CATEGORY_LABELS,
    OWN_CHOICES,
    basis_text,
    retention_term,
)
from courtyard.domains.privacy.datamap_registry import get_data_map

Row = tuple[str, str, tuple[Basis, ...], Retention]  # table, purpose, basis, retention
INTRO = (
    "Every piece of data this service stores is declared in its data map, with why we keep "
    "it, on what lawful basis and for how long; this section is generated from that map. "
    "Messages, attachments and the keys for them are end-to-end encrypted: we store them "
    "only as ciphertext and cannot read them."
)


def render_data_section(policy_region: str) -> str:
    """Markdown for the policy's data section in ``policy_region`` (``CN``, ``EU``,
    ``default``): per category, what is stored, why, on what lawful basis, for how long."""
    registered = get_data_map()
    grouped: dict[Category, dict[Row, list[str]]] = defaultdict(lambda: defaultdict(list))
    for name in sorted(registered.tables):
        for column, d in registered.tables[name].columns.items():
            grouped[d.category][(name, d.purpose, d.basis, d.retention)].append(column)
    lines = ["## What we store and why", "", INTRO, ""]
    sources: set[str] = set()
    for category, (title, meaning) in CATEGORY_LABELS.items():
        if category == "none" or category not in grouped:
            continue
        lines += [f"### {title}", "", f"{meaning[:1].upper()}{meaning[1:]}.", ""]
        lines += ["| what | why | lawful basis | how long |", "|---|---|---|---|"]
        for (name, purpose, basis, retention), columns in grouped[category].items():
            term = retention_term(retention, policy_region)
            if not term.source.startswith(OWN_CHOICES):
                sources.add(term.source)
            bases = "; ".join(dict.fromkeys(basis_text(b, policy_region) for b in basis))
            what = f"`{name}`: {', '.join(columns)}"
            lines.append(f"| {_cell(what)} | {_cell(purpose)} | {_cell(bases)} | {term.text} |")
        lines.append("")
    lines += [
        "The periods above follow: " + "; ".join(sorted(sources)) + ". The others are our "
        "own, as short as the purpose allows.",
        "",
        f"Data map version `{registered.version[:16]}`; the full map is public at "
        "`GET /v1/privacy/datamap`.",
        "",
    ]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
