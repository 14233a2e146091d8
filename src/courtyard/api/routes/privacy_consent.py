"""Privacy policies and consent: read your region's policy and what changed, consent to it,
give or withdraw each purpose, and see your consent records (docs/privacy-consent.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from courtyard.api.deps import CurrentIdentityAnyConsent, RuntimeDep
from courtyard.api.problems import AUTH_PROBLEMS, COMMON_PROBLEMS, problem_doc
from courtyard.domains.privacy.consent_schemas import (
    ConsentIn,
    ConsentRecordOut,
    ConsentRecordsOut,
    ConsentStateOut,
    PolicyDiffOut,
    PolicyOut,
    PurposeIn,
)

router = APIRouter(prefix="/v1/privacy", tags=["privacy"], responses=COMMON_PROBLEMS)
POLICY_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: problem_doc("policy_not_found: no such policy region (CN, EU, default) or version."),
}
CONSENT_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **AUTH_PROBLEMS,
    409: problem_doc(
        "policy_outdated: `version_hash` is not the current version (with "
        "current_version and current_version_hash)."
    ),
    422: problem_doc(
        "purpose_required (with purpose): a required purpose is not granted; unknown_purpose: "
        "the policy does not ask for a purpose named."
    ),
}
RegionPath = Annotated[
    str, Path(description="`CN`, `EU` or `default`.", examples=["EU"], max_length=16)
]
Version = Annotated[int, Query(ge=1, le=2**31 - 1)]


@router.get(
    "/policy",
    response_model=PolicyOut,
    responses={
        400: problem_doc("invalid_region: not an ISO 3166-1 alpha-2 country code."),
    },
)
async def get_policy_for_country(
    runtime: RuntimeDep,
    country: Annotated[str, Query(min_length=2, max_length=2, examples=["DE"])],
) -> PolicyOut:
    """The current privacy policy for people registering with `country`: read it, then send
    its `version_hash` and your purposes with `POST /v1/accounts`."""
    return PolicyOut.of(await runtime.consent.access_policy_for_country(country))


@router.get("/policies/{policy_region}", response_model=PolicyOut, responses=POLICY_NOT_FOUND)
async def get_policy(
    policy_region: RegionPath, runtime: RuntimeDep, version: Version | None = None
) -> PolicyOut:
    """A policy region's current text, or the given `version`."""
    return PolicyOut.of(await runtime.consent.access_policy(policy_region, version))


@router.get(
    "/policies/{policy_region}/diff", response_model=PolicyDiffOut, responses=POLICY_NOT_FOUND
)
async def get_policy_diff(
    policy_region: RegionPath,
    runtime: RuntimeDep,
    from_version: Annotated[int, Query(alias="from", ge=1, le=2**31 - 1)],
    to_version: Annotated[int | None, Query(alias="to", ge=1, le=2**31 - 1)] = None,
) -> PolicyDiffOut:
    """What changed between two versions (`to` defaults to the current one), as the lines
    of a unified diff."""
    old, new, lines = await runtime.consent.get_diff(policy_region, from_version, to_version)
    return PolicyDiffOut(
        policy_region=new.policy_region, from_version=old.version, to_version=new.version,
        from_version_hash=old.version_hash, to_version_hash=new.version_hash, lines=lines,
    )  # fmt: skip


@router.get("/consent", response_model=ConsentStateOut, responses=AUTH_PROBLEMS)
async def get_consent(identity: CurrentIdentityAnyConsent, runtime: RuntimeDep) -> ConsentStateOut:
    """Where you stand: the version you consented to, the current one, whether you need to
    consent again, and each purpose with whether it is granted, required, and what it gates."""
    return ConsentStateOut.of(await runtime.consent.get_state(identity))


@router.post("/consent", response_model=ConsentStateOut, responses=CONSENT_PROBLEMS)
async def post_consent(
    body: ConsentIn, identity: CurrentIdentityAnyConsent, runtime: RuntimeDep
) -> ConsentStateOut:
    """Consent to the current version of your policy (recorded with this device); purposes
    you leave out keep their value."""
    state = await runtime.consent.do_consent(identity, body.version_hash, body.purposes)
    return ConsentStateOut.of(state)


@router.put(
    "/purposes/{purpose}",
    response_model=ConsentStateOut,
    responses={
        **AUTH_PROBLEMS,
        404: problem_doc("purpose_not_found: your policy does not ask for this purpose."),
    },
)
async def put_purpose(
    purpose: Annotated[str, Path(max_length=32)],
    body: PurposeIn,
    identity: CurrentIdentityAnyConsent,
    runtime: RuntimeDep,
) -> ConsentStateOut:
    """Give or withdraw one purpose; withdrawing is as easy as granting. Withdrawing a
    required purpose stops the service (or, for a wallet purpose, the wallet) until you give
    it again."""
    state = await runtime.consent.do_set_purpose(identity, purpose, body.granted)
    return ConsentStateOut.of(state)


@router.get("/consent-records", response_model=ConsentRecordsOut, responses=AUTH_PROBLEMS)
async def get_consent_records(
    identity: CurrentIdentityAnyConsent, runtime: RuntimeDep
) -> ConsentRecordsOut:
    """Every consent you gave or withdrew, newest first: policy, version hash, purpose, time
    and device."""
    records = await runtime.consent.get_records(identity)
    return ConsentRecordsOut(records=[ConsentRecordOut.of(r) for r in records])
