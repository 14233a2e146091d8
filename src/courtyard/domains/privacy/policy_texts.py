"""Policy texts: parse a template (TOML front matter between ``+++`` lines, then Markdown with
two placeholders), render it into the stored body, hash it, refresh its generated sections, and
diff two versions (docs/privacy-consent.md). Pure functions, no I/O but reading the shipped
files."""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from courtyard.core.regions import POLICY_REGIONS
from courtyard.domains.privacy.consent_errors import InvalidPolicy

GATES = ("all", "wallet", "none")
DATA_SECTION = "data_section"
CONSENTS_SECTION = "consents_section"
DATA_HEADING = "## What we store and why"
CONSENTS_HEADING = "## The consents we ask"
FRONT_MATTER = "+++"
_MARKERS = {
    name: (f"<!-- generated: {words} -->", f"<!-- end: {words} -->")
    for name, words in ((DATA_SECTION, "what we store and why"),
                        (CONSENTS_SECTION, "the consents we ask"))
}  # fmt: skip
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

DataSection = Callable[[str], str]  # policy region -> Markdown


@dataclass(frozen=True)
class PolicyTemplate:
    """A parsed template: its edition, title, the purposes it asks, and its Markdown body."""

    version: str
    title: str
    purposes: dict[str, dict[str, Any]]
    body: str


@dataclass(frozen=True)
class RenderedPolicy:
    """A text as stored: title, body, the purposes this deployment asks, and its hash."""

    title: str
    body: str
    purposes: dict[str, dict[str, Any]]

    @property
    def version_hash(self) -> str:
        return version_hash(self.body)


def ordered_purposes(purposes: Mapping[str, Any]) -> dict[str, Any]:
    """Purposes in one order everywhere (what they gate: all, wallet, none; then by name):
    PostgreSQL's JSON keeps no key order."""
    return dict(sorted(purposes.items(), key=lambda item: (GATES.index(item[1]["gates"]), item[0])))


def version_hash(body: str) -> str:
    """The SHA-256 (hex) of the exact text a user consents to."""
    return hashlib.sha256(body.encode()).hexdigest()


def shipped_template(policy_region: str) -> PolicyTemplate:
    """The template shipped in the package for ``policy_region``."""
    if policy_region not in POLICY_REGIONS:
        raise ValueError(f"unknown policy region {policy_region!r}")
    resource = files("courtyard.domains.privacy").joinpath(f"policies/{policy_region.lower()}.md")
    return parse_template(resource.read_text(encoding="utf-8"))


def parse_template(text: str) -> PolicyTemplate:
    """Parse a template; ``InvalidPolicy`` names what is wrong with it."""
    lines = text.replace("\r\n", "\n").split("\n")
    if (
        not lines
        or lines[0].strip() != FRONT_MATTER
        or FRONT_MATTER not in (line.strip() for line in lines[1:])
    ):
        raise InvalidPolicy("the text must start with TOML front matter between +++ lines")
    end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == FRONT_MATTER)
    try:
        meta = tomllib.loads("\n".join(lines[1:end]))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidPolicy(f"the front matter is not valid TOML: {exc}") from None
    title, version = meta.get("title"), meta.get("version")
    if not isinstance(title, str) or not 0 < len(title.strip()) <= 200:
        raise InvalidPolicy("the front matter needs a title (1 to 200 characters)")
    if not isinstance(version, str | int) or not str(version).strip():
        raise InvalidPolicy("the front matter needs a version (the text's edition)")
    body = "\n".join(lines[end + 1 :]).strip("\n") + "\n"
    for name in (DATA_SECTION, CONSENTS_SECTION):
        if _placeholder_count(body, name) != 1:
            raise InvalidPolicy(f"the body needs the line {{{{ {name} }}}} exactly once")
    purposes = _check_purposes(meta.get("purposes", {}))
    return PolicyTemplate(str(version).strip(), title.strip(), purposes, body)


def render_policy(
    template: PolicyTemplate,
    policy_region: str,
    *,
    hosting_country: str,
    data_section: DataSection,
) -> RenderedPolicy:
    """The stored text: title, edition, and the body with both generated sections filled in.
    A purpose ``unless_hosted_in`` this deployment's country is not asked."""
    purposes = ordered_purposes({
        name: {"gates": p["gates"], "required": p["gates"] == "all", "label": p["label"]}
        for name, p in template.purposes.items()
        if not hosting_country or hosting_country.upper() not in p["unless_hosted_in"]
    })  # fmt: skip
    body = f"# {template.title}\n\nVersion {template.version}\n\n{template.body}"
    for name in (DATA_SECTION, CONSENTS_SECTION):
        body = _PLACEHOLDERS[name].sub(_placeholder_token(name), body)
    body = _fill(body, policy_region, purposes, data_section)
    return RenderedPolicy(template.title, body, purposes)


def refresh_generated(
    body: str, policy_region: str, purposes: Mapping[str, Any], data_section: DataSection
) -> str:
    """``body`` (a stored text) with its generated sections rendered afresh."""
    for name, (start, end) in _MARKERS.items():
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
        body = pattern.sub(_placeholder_token(name), body)
    return _fill(body, policy_region, purposes, data_section)


def generated_section(body: str, name: str) -> str | None:
    """The text of one generated section of a stored body (between its markers), if any."""
    start, end = _MARKERS[name]
    _head, found, rest = body.partition(start + "\n")
    if not found:
        return None
    section, found, _tail = rest.partition("\n" + end)
    return section if found else None


def consents_section(purposes: Mapping[str, Any]) -> str:
    """What the version asks: each purpose, what it is needed for, and how to change it."""
    lines = [CONSENTS_HEADING, ""]
    if not purposes:
        lines.append("This version asks for no consents beyond accepting it.")
    for name, purpose in purposes.items():
        need = {
            "all": "required to use the service",
            "wallet": "needed for the wallet only; everything else works without it",
            "none": "optional; nothing depends on it",
        }[purpose["gates"]]
        lines.append(f"- `{name}`: {purpose['label']} ({need}).")
    lines += ["", "You can give or withdraw each of these at any time in the privacy center."]
    return "\n".join(lines)


def policy_diff(old: str, new: str, *, old_label: str, new_label: str) -> list[str]:
    """The unified diff (lines, no trailing newlines) from ``old`` to ``new``."""
    return list(
        difflib.unified_diff(
            old.splitlines(), new.splitlines(), fromfile=old_label, tofile=new_label, lineterm=""
        )
    )


# --- internals --------------------------------------------------------------------------

_PLACEHOLDERS = {
    name: re.compile(r"^[ \t]*\{\{\s*" + name + r"\s*\}\}[ \t]*$", re.MULTILINE)
    for name in (DATA_SECTION, CONSENTS_SECTION)
}


def _placeholder_count(body: str, name: str) -> int:
    return len(_PLACEHOLDERS[name].findall(body))


def _placeholder_token(name: str) -> str:
    return f"\x00{name}\x00"  # cannot occur in a text (PostgreSQL refuses NUL)


def _fill(
    body: str, policy_region: str, purposes: Mapping[str, Any], data_section: DataSection
) -> str:
    sections = {
        DATA_SECTION: _with_heading(data_section(policy_region).strip("\n"), DATA_HEADING),
        CONSENTS_SECTION: consents_section(purposes),
    }
    for name, text in sections.items():
        start, end = _MARKERS[name]
        body = body.replace(_placeholder_token(name), f"{start}\n{text}\n{end}")
    return body


def _with_heading(section: str, heading: str) -> str:
    return section if section.lstrip().startswith("#") else f"{heading}\n\n{section}"


def _check_purposes(raw: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict):
        raise InvalidPolicy("purposes must be a table of [purposes.NAME] tables")
    purposes: dict[str, dict[str, Any]] = {}
    for name, spec in raw.items():
        if not _NAME.match(name) or not isinstance(spec, dict):
            raise InvalidPolicy(f"purpose {name!r}: a lower-case name and a table are needed")
        gates, label = spec.get("gates"), spec.get("label")
        hosted = spec.get("unless_hosted_in", [])
        if gates not in GATES:
            raise InvalidPolicy(f"purpose {name!r}: gates must be one of {', '.join(GATES)}")
        if not isinstance(label, str) or not 0 < len(label.strip()) <= 200:
            raise InvalidPolicy(f"purpose {name!r}: a label of 1 to 200 characters is needed")
        if not isinstance(hosted, list) or not all(isinstance(c, str) for c in hosted):
            raise InvalidPolicy(f"purpose {name!r}: unless_hosted_in is a list of country codes")
        purposes[name] = {
            "gates": gates,
            "label": label.strip(),
            "unless_hosted_in": [c.upper() for c in hosted],
        }
    return purposes
