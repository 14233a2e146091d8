"""Errors of policies and consent, each with a stable code (docs/privacy-consent.md)."""

from __future__ import annotations

from typing import Any

from courtyard.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unprocessable,
)


class ConsentRequired(PermissionDenied):
    """The user has not consented to the current policy version, or to a purpose it gates.
    The problem names the policy region, the current version and hash, and the purpose."""

    code = "consent_required"
    title = "Consent to the current privacy policy is required"

    def __init__(
        self,
        *,
        policy_region: str,
        current_version: int,
        current_version_hash: str,
        purpose: str | None = None,
    ) -> None:
        extra: dict[str, Any] = {
            "policy_region": policy_region,
            "current_version": current_version,
            "current_version_hash": current_version_hash,
        }
        if purpose is None:
            detail = f"consent to version {current_version} of the {policy_region} policy"
        else:
            extra["purpose"] = purpose
            detail = f"grant the purpose {purpose!r} of the {policy_region} policy"
        super().__init__(detail, **extra)


class PolicyOutdated(Conflict):
    code = "policy_outdated"
    title = "That is not the current version of the privacy policy"


class PurposeRequired(Unprocessable):
    code = "purpose_required"
    title = "A required purpose was not granted"


class UnknownPurpose(Unprocessable):
    code = "unknown_purpose"
    title = "The policy does not ask for that purpose"


class PurposeNotFound(NotFound):
    code = "purpose_not_found"
    title = "Your policy does not ask for that purpose"


class PolicyNotFound(NotFound):
    code = "policy_not_found"
    title = "No such policy or version"


class InvalidPolicy(InvalidInput):
    code = "invalid_policy"
    title = "The policy text is not valid"


class InvalidCountry(InvalidInput):
    code = "invalid_region"
    title = "The region is not an ISO 3166-1 alpha-2 country code"
