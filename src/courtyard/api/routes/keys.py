"""Publish your device's keys, and fetch other devices' keys to start encrypted sessions.

Any signed-in user may query and claim any user's keys: that is how an Olm session to
another person's device starts. Only a device itself may upload its keys.
"""

from __future__ import annotations

from fastapi import APIRouter

from courtyard.api.deps import CurrentIdentity, KeysDep
from courtyard.api.problems import AUTH_PROBLEMS, COMMON_PROBLEMS, problem_doc
from courtyard.domains.keys.schemas import (
    ClaimRequest,
    ClaimResponse,
    KeyCountsOut,
    QueryRequest,
    QueryResponse,
    UploadRequest,
)

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses={**COMMON_PROBLEMS, **AUTH_PROBLEMS})


@router.post(
    "/upload",
    response_model=KeyCountsOut,
    responses={
        403: problem_doc("The keys name another device (`not_your_device`)."),
        409: problem_doc(
            "Other identity keys are already on file (`device_keys_immutable`), or a key id "
            "is on file with another key (`key_id_reused`)."
        ),
    },
)
async def upload_keys(
    body: UploadRequest, identity: CurrentIdentity, keys: KeysDep
) -> KeyCountsOut:
    """Publish this device's identity keys, signed one-time keys and fallback key.

    Only the device itself can upload its keys, and its identity keys only once (the same
    object again changes nothing). Every object must be signed by the device's Ed25519 key
    over its canonical JSON; one-time and fallback keys need the identity keys on file or in
    the same request (`device_keys_missing`). Refused: bad signatures (`bad_signature`),
    malformed keys (`invalid_key`), small-order Curve25519 keys (`low_order_key`), a key id
    or key equal to the device id (`key_id_is_device_id`), more than 50 one-time keys per
    upload or 100 unclaimed per device (`too_many_one_time_keys`). A refused upload stores
    nothing. A new fallback key replaces the old one. Answers what the device now holds.
    """
    counts = await keys.do_upload(identity, body.device_keys, body.one_time_keys, body.fallback_key)
    return KeyCountsOut.model_validate(counts, from_attributes=True)


@router.post("/query", response_model=QueryResponse)
async def query_keys(
    body: QueryRequest, _identity: CurrentIdentity, keys: KeysDep
) -> QueryResponse:
    """The signed identity keys of every device of up to 100 users that has uploaded them.

    Any signed-in user may ask about any user. Users without such devices are absent.
    Check each signature yourself: the server could lie about keys, not forge them.
    """
    found = await keys.get_device_keys(body.user_ids)
    return QueryResponse.model_validate({"devices": found})


@router.post("/claim", response_model=ClaimResponse)
async def claim_keys(body: ClaimRequest, identity: CurrentIdentity, keys: KeysDep) -> ClaimResponse:
    """Take one one-time key of each listed device, to open an Olm session with it.

    Any signed-in user may claim any device's keys. Each one-time key is handed out once;
    when a device has none left you get its fallback key (`fallback: true`), which stays.
    Devices without keys are absent from the answer; a device listed twice counts once.
    """
    pairs = [(device.user_id, device.device_id) for device in body.devices]
    claimed = await keys.do_claim(identity, pairs)
    return ClaimResponse.model_validate({"one_time_keys": claimed})


@router.get("/count", response_model=KeyCountsOut)
async def count_keys(identity: CurrentIdentity, keys: KeysDep) -> KeyCountsOut:
    """How many unclaimed one-time keys this device has, and whether an unused fallback key."""
    counts = await keys.get_counts(identity)
    return KeyCountsOut.model_validate(counts, from_attributes=True)
