"""Find other people by username, to start a conversation with them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from courtyard.api.deps import AccountsDep, CurrentIdentity
from courtyard.api.problems import AUTH_PROBLEMS, COMMON_PROBLEMS, problem_doc
from courtyard.domains.accounts.schemas import UserOut

router = APIRouter(
    prefix="/v1/users",
    tags=["accounts"],
    responses={**COMMON_PROBLEMS, **AUTH_PROBLEMS, 404: problem_doc("No such user.")},
)


@router.get("/by-username/{username}", response_model=UserOut)
async def user_by_username(
    username: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[^\x00/]+$")],
    _identity: CurrentIdentity,
    accounts: AccountsDep,
) -> UserOut:
    """Look a user up by username: their id and display name, nothing more."""
    user = await accounts.access_user_by_username(username)
    return UserOut(user_id=user.user_id, username=user.username, display_name=user.display_name)
