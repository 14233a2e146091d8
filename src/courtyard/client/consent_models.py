"""What the policy and consent API answers, as the SDK hands it out (docs/privacy-consent.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from courtyard.client.models import parse_time


@dataclass(frozen=True, slots=True)
class PurposeSpec:
    """A purpose a policy asks: what it gates (``all``, ``wallet``, ``none``) and its label."""

    name: str
    gates: str
    required: bool
    label: str


@dataclass(frozen=True, slots=True)
class Policy:
    """One version of a region's privacy policy; ``version_hash`` is what you consent to."""

    policy_region: str
    version: int
    version_hash: str
    title: str
    body: str
    purposes: dict[str, PurposeSpec]
    published_at: dt.datetime

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Policy:
        purposes = {
            str(name): PurposeSpec(
                str(name), str(spec["gates"]), bool(spec["required"]), str(spec["label"])
            )
            for name, spec in dict(data["purposes"]).items()
        }
        return cls(
            policy_region=str(data["policy_region"]),
            version=int(data["version"]),
            version_hash=str(data["version_hash"]),
            title=str(data["title"]),
            body=str(data["body"]),
            purposes=purposes,
            published_at=parse_time(data["published_at"]),
        )

    def choices(self, *granted: str) -> dict[str, bool]:
        """A purposes map for consenting: the required purposes and ``granted`` true, the
        rest false. A name the policy does not ask is left in, for the server to refuse."""
        values = {name: spec.required for name, spec in self.purposes.items()}
        return values | dict.fromkeys(granted, True)


@dataclass(frozen=True, slots=True)
class PolicyDiff:
    """What changed between two versions, as unified-diff lines (``+`` added, ``-`` removed)."""

    policy_region: str
    from_version: int
    to_version: int
    from_version_hash: str
    to_version_hash: str
    lines: list[str]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> PolicyDiff:
        return cls(
            policy_region=str(data["policy_region"]),
            from_version=int(data["from_version"]),
            to_version=int(data["to_version"]),
            from_version_hash=str(data["from_version_hash"]),
            to_version_hash=str(data["to_version_hash"]),
            lines=[str(line) for line in data["lines"]],
        )


@dataclass(frozen=True, slots=True)
class PurposeState:
    purpose: str
    label: str
    gates: str
    required: bool
    granted: bool


@dataclass(frozen=True, slots=True)
class ConsentState:
    """Where you stand against your region's current policy."""

    policy_region: str
    consented_version: int | None
    consented_version_hash: str | None
    consented_at: dt.datetime | None
    current_version: int
    current_version_hash: str
    needs_reconsent: bool
    service_usable: bool
    wallet_usable: bool
    purposes: list[PurposeState]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ConsentState:
        consented = data.get("consented_version")
        at = data.get("consented_at")
        return cls(
            policy_region=str(data["policy_region"]),
            consented_version=int(consented) if consented is not None else None,
            consented_version_hash=data.get("consented_version_hash"),
            consented_at=parse_time(at) if at is not None else None,
            current_version=int(data["current_version"]),
            current_version_hash=str(data["current_version_hash"]),
            needs_reconsent=bool(data["needs_reconsent"]),
            service_usable=bool(data["service_usable"]),
            wallet_usable=bool(data["wallet_usable"]),
            purposes=[
                PurposeState(
                    str(p["purpose"]), str(p["label"]), str(p["gates"]), bool(p["required"]),
                    bool(p["granted"]),
                )
                for p in data["purposes"]
            ],
        )  # fmt: skip

    def purpose(self, name: str) -> PurposeState | None:
        return next((p for p in self.purposes if p.purpose == name), None)


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One consent given or withdrawn, as the server keeps it for evidence."""

    record_id: str
    user_id: str
    kind: str
    policy_region: str
    policy_version: int
    version_hash: str
    purpose: str | None
    granted: bool
    device_id: str | None
    at: dt.datetime

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ConsentRecord:
        return cls(
            record_id=str(data["record_id"]),
            user_id=str(data["user_id"]),
            kind=str(data["kind"]),
            policy_region=str(data["policy_region"]),
            policy_version=int(data["policy_version"]),
            version_hash=str(data["version_hash"]),
            purpose=data.get("purpose"),
            granted=bool(data["granted"]),
            device_id=data.get("device_id"),
            at=parse_time(data["at"]),
        )
