"""Wire shapes of the policy and consent API (docs/privacy-consent.md, "API")."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from courtyard.domains.privacy.consent import ConsentState
from courtyard.domains.privacy.models import ConsentRecord, PrivacyPolicy
from courtyard.domains.privacy.policy_texts import ordered_purposes

HASH_PATTERN = "^[0-9a-f]{64}$"


class PurposeSpec(BaseModel):
    gates: Literal["all", "wallet", "none"] = Field(
        description="What needs it: `all` (the whole service), `wallet`, or `none`."
    )
    required: bool = Field(description="Whether consenting needs it granted (gates = all).")
    label: str


class PolicyOut(BaseModel):
    policy_region: str = Field(examples=["EU"])
    version: int
    version_hash: str = Field(description="SHA-256 (hex) of `body`: what you consent to.")
    title: str
    body: str = Field(description="The policy in Markdown, exactly as hashed.")
    purposes: dict[str, PurposeSpec]
    published_at: dt.datetime

    @classmethod
    def of(cls, policy: PrivacyPolicy) -> PolicyOut:
        return cls(
            policy_region=policy.policy_region, version=policy.version,
            version_hash=policy.version_hash, title=policy.title, body=policy.body,
            purposes={
                name: PurposeSpec(**spec)
                for name, spec in ordered_purposes(policy.purposes).items()
            },
            published_at=policy.published_at,
        )  # fmt: skip


class PolicyDiffOut(BaseModel):
    policy_region: str
    from_version: int
    to_version: int
    from_version_hash: str
    to_version_hash: str
    lines: list[str] = Field(description="A unified diff: `+` added, `-` removed, ` ` context.")


class PurposeStateOut(BaseModel):
    purpose: str
    label: str
    gates: Literal["all", "wallet", "none"]
    required: bool
    granted: bool


class ConsentStateOut(BaseModel):
    policy_region: str
    consented_version: int | None = Field(description="None if you never consented.")
    consented_version_hash: str | None
    consented_at: dt.datetime | None
    current_version: int
    current_version_hash: str
    needs_reconsent: bool = Field(description="The current version is not the one you accepted.")
    service_usable: bool = Field(description="Whether the consent gate lets you in now.")
    wallet_usable: bool = Field(description="Whether the wallet's purposes are granted too.")
    purposes: list[PurposeStateOut]

    @classmethod
    def of(cls, state: ConsentState) -> ConsentStateOut:
        data: dict[str, Any] = {**vars(state), "purposes": [vars(p) for p in state.purposes]}
        return cls.model_validate(data)


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version_hash: str = Field(pattern=HASH_PATTERN, description="The current version's hash.")
    purposes: dict[str, bool] = Field(
        default_factory=dict,
        max_length=32,
        description="Your choice per purpose; purposes left out keep their value.",
    )


class PurposeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    granted: bool


class ConsentRecordOut(BaseModel):
    record_id: str
    user_id: str
    kind: Literal["policy", "purpose"]
    policy_region: str
    policy_version: int
    version_hash: str
    purpose: str | None
    granted: bool
    device_id: str | None
    at: dt.datetime

    @classmethod
    def of(cls, record: ConsentRecord) -> ConsentRecordOut:
        return cls.model_validate(record, from_attributes=True)


class ConsentRecordsOut(BaseModel):
    records: list[ConsentRecordOut]
