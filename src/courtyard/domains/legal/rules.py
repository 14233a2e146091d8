"""The desk's rules: which process types suffice for which data category, and whether an
authority reaches a target's registration country. Loaded from ``default_rules.toml`` or the
file ``legal_rules_path`` names; evaluating a case gives per-category and per-target advice
whose refusals carry stable codes (docs/legal-desk.md, "Rules")."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from courtyard.core.errors import ConfigError

PROCESS_TYPES = (
    "subpoena",
    "court_order",
    "search_warrant",
    "emergency",
    "preservation_request",
    "mutual_legal_assistance",
)
CATEGORIES = ("subscriber", "connection_logs", "transactions", "message_metadata", "content")
# The tables each category reads (docs/legal-desk.md, "Data categories").
CATEGORY_TABLES: Mapping[str, tuple[str, ...]] = {
    "subscriber": ("users",),
    "connection_logs": ("devices", "access_tokens"),
    "transactions": (
        "ledger_accounts",
        "ledger_entries",
        "ledger_postings",
        "transfers",
        "payments",
        "bill_payments",
    ),
    "message_metadata": ("conversations", "conversation_members", "timeline_events"),
    "content": ("timeline_events", "media"),
}
DEFAULT_RULES_FILE = Path(__file__).with_name("default_rules.toml")

# Advice codes: allowed, the two refusals, what preservation does, and an unknown target.
ALLOWED = "allowed"
PRESERVE = "preserve"
INSUFFICIENT_PROCESS = "insufficient_process"
OUT_OF_JURISDICTION = "out_of_jurisdiction"
NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class Advice:
    """The rules' word on one category or one target: ``code`` is ``allowed``, ``preserve``,
    ``insufficient_process``, ``out_of_jurisdiction`` or ``not_found``."""

    subject: str
    code: str
    reason: str

    @property
    def refused(self) -> bool:
        return self.code not in (ALLOWED, PRESERVE)


@dataclass(frozen=True, slots=True)
class TargetFacts:
    """What the rules need of a target: its number, how it was named, its region if found."""

    target_no: int
    identifier: str
    user_region: str | None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Advice for each requested category and each target, shown to the reviewer."""

    categories: tuple[Advice, ...]
    targets: tuple[tuple[int, Advice], ...]
    production_allowed: bool

    def refused_categories(self) -> list[str]:
        return [a.subject for a in self.categories if a.refused]

    def target_advice(self, target_no: int) -> Advice | None:
        return next((advice for no, advice in self.targets if no == target_no), None)


@dataclass(frozen=True, slots=True)
class Rules:
    """The rules in force: ``production[category]`` lists the process types that suffice."""

    production: Mapping[str, frozenset[str]]
    preservation_only: frozenset[str]
    same_country: bool
    cross_border: frozenset[str]
    source: str

    def category_advice(self, process_type: str, category: str) -> Advice:
        if process_type in self.preservation_only:
            return Advice(category, PRESERVE, f"a {label(process_type)} preserves, never produces")
        if process_type in self.production[category]:
            return Advice(category, ALLOWED, f"a {label(process_type)} suffices")
        enough = " or ".join(label(p) for p in PROCESS_TYPES if p in self.production[category])
        return Advice(
            category,
            INSUFFICIENT_PROCESS,
            f"{label(category)} needs {enough or 'a process the rules do not name'}",
        )

    def target_advice(self, country: str, process_type: str, target: TargetFacts) -> Advice:
        if target.user_region is None:
            return Advice(target.identifier, NOT_FOUND, "no account has this name or id")
        if (
            self.same_country
            and target.user_region != country
            and process_type not in self.cross_border
        ):
            ways = " or ".join(label(p) for p in PROCESS_TYPES if p in self.cross_border)
            return Advice(
                target.identifier,
                OUT_OF_JURISDICTION,
                f"registered in {target.user_region}, not {country}"
                + (f"; only through {ways}" if ways else ""),
            )
        return Advice(target.identifier, ALLOWED, f"registered in {target.user_region}")

    def evaluate(
        self,
        country: str,
        process_type: str,
        categories: Iterable[str],
        targets: Iterable[TargetFacts],
    ) -> Evaluation:
        """The advice for a case's request (or for a reviewed scope)."""
        return Evaluation(
            categories=tuple(self.category_advice(process_type, c) for c in categories),
            targets=tuple(
                (t.target_no, self.target_advice(country, process_type, t)) for t in targets
            ),
            production_allowed=process_type not in self.preservation_only,
        )

    def describe(self) -> dict[str, Any]:
        """The rules as data, for the console's rules page and ``courtyard admin legal rules``."""
        return {
            "source": self.source,
            "production": {
                c: sorted(self.production[c], key=PROCESS_TYPES.index) for c in CATEGORIES
            },
            "preservation_only": sorted(self.preservation_only, key=PROCESS_TYPES.index),
            "jurisdiction": {
                "same_country": self.same_country,
                "cross_border": sorted(self.cross_border, key=PROCESS_TYPES.index),
            },
        }


def label(name: str) -> str:
    """``court_order`` → ``court order``."""
    return name.replace("_", " ")


def load_rules(path: Path | None = None) -> Rules:
    """The rules in ``path`` (default: the shipped defaults); ``ConfigError`` if invalid."""
    source = path or DEFAULT_RULES_FILE
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"legal rules {source}: {exc}") from None
    return parse_rules(data, str(source))


def parse_rules(data: Mapping[str, Any], source: str) -> Rules:
    """Check and build the rules from a parsed TOML document."""
    unknown = set(data) - {"production", "preservation", "jurisdiction"}
    if unknown:
        raise ConfigError(f"legal rules {source}: unknown sections {sorted(unknown)}")
    production = _table(data, "production", source)
    if missing := [c for c in CATEGORIES if c not in production]:
        raise ConfigError(f"legal rules {source}: [production] leaves out {missing}")
    if extra := sorted(set(production) - set(CATEGORIES)):
        raise ConfigError(f"legal rules {source}: unknown categories {extra}")
    preservation = _table(data, "preservation", source)
    jurisdiction = _table(data, "jurisdiction", source)
    same_country = jurisdiction.get("same_country", True)
    if not isinstance(same_country, bool):
        raise ConfigError(f"legal rules {source}: jurisdiction.same_country is true or false")
    return Rules(
        production={
            c: _process_types(production[c], f"production.{c}", source) for c in CATEGORIES
        },
        preservation_only=_process_types(
            preservation.get("process_types", []), "preservation.process_types", source
        ),
        same_country=same_country,
        cross_border=_process_types(
            jurisdiction.get("cross_border", []), "jurisdiction.cross_border", source
        ),
        source=source,
    )


def _table(data: Mapping[str, Any], name: str, source: str) -> Mapping[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, Mapping):
        raise ConfigError(f"legal rules {source}: [{name}] must be a table")
    return table


def _process_types(value: object, where: str, source: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"legal rules {source}: {where} must be a list of process types")
    if unknown := sorted(set(value) - set(PROCESS_TYPES)):
        raise ConfigError(f"legal rules {source}: {where} names unknown process types {unknown}")
    return frozenset(value)
