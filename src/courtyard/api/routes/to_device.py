"""Send Olm-encrypted messages to specific devices (key sharing, verification)."""

from __future__ import annotations

from fastapi import APIRouter

from courtyard.api.deps import CurrentIdentity, RuntimeDep
from courtyard.api.problems import AUTH_PROBLEMS, COMMON_PROBLEMS
from courtyard.domains.todevice import SendToDeviceRequest, SendToDeviceResult

router = APIRouter(prefix="/v1", tags=["to-device"], responses={**COMMON_PROBLEMS, **AUTH_PROBLEMS})


@router.post("/to-device", response_model=SendToDeviceResult)
async def send_to_device(
    body: SendToDeviceRequest, identity: CurrentIdentity, runtime: RuntimeDep
) -> SendToDeviceResult:
    """Queue Olm-encrypted messages, each for one device of any user.

    The server refuses anything that is not an Olm envelope (`not_olm_encrypted`), so keys
    and verification messages can only travel encrypted. Each recipient device receives its
    message through sync as a `to_device` event with `content.message`; it is deleted once
    the device acknowledges that position. Retrying with the same `txn_id` is safe.
    """
    return await runtime.to_device.do_send(identity, body)
