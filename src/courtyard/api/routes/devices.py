"""List, rename and remove your devices."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from courtyard.api.deps import AccountsDep, CurrentIdentity
from courtyard.api.problems import AUTH_PROBLEMS, COMMON_PROBLEMS, problem_doc
from courtyard.core.wire import ID_PATTERN
from courtyard.domains.accounts.schemas import DeviceOut, DeviceUpdate

router = APIRouter(
    prefix="/v1/devices",
    tags=["devices"],
    responses={**COMMON_PROBLEMS, **AUTH_PROBLEMS, 404: problem_doc("No such device of yours.")},
)
DeviceId = Annotated[str, Path(pattern=ID_PATTERN)]


@router.get("", response_model=list[DeviceOut])
async def list_devices(identity: CurrentIdentity, accounts: AccountsDep) -> list[DeviceOut]:
    """Every device signed in to your account, oldest first."""
    devices = await accounts.get_devices(identity)
    return [
        DeviceOut.model_validate({**vars(d), "current": d.device_id == identity.device_id})
        for d in devices
    ]


@router.patch("/{device_id}", response_model=DeviceOut)
async def rename_device(
    device_id: DeviceId, body: DeviceUpdate, identity: CurrentIdentity, accounts: AccountsDep
) -> DeviceOut:
    """Give one of your devices a new name."""
    device = await accounts.do_rename_device(identity, device_id, body.display_name)
    return DeviceOut.model_validate({**vars(device), "current": device_id == identity.device_id})


@router.delete("/{device_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_device(
    device_id: DeviceId, identity: CurrentIdentity, accounts: AccountsDep
) -> None:
    """Sign a device out remotely; its tokens stop working at once."""
    await accounts.do_remove_device(identity, device_id)
