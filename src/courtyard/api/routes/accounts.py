"""Register, log in and out, whoami, profile and password."""

from __future__ import annotations

from fastapi import APIRouter, status

from courtyard.api.deps import (
    AccountsDep,
    ClientAddress,
    CurrentIdentity,
    CurrentIdentityAnyConsent,
)
from courtyard.api.problems import AUTH_PROBLEMS, COMMON_PROBLEMS, problem_doc
from courtyard.domains.accounts.schemas import (
    AccountOut,
    ChangePasswordRequest,
    LoginRequest,
    ProfileUpdate,
    RegisterRequest,
    SessionOut,
)

router = APIRouter(prefix="/v1", tags=["accounts"], responses=COMMON_PROBLEMS)


@router.post(
    "/accounts",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionOut,
    responses={
        409: problem_doc(
            "The username is taken (`username_taken`), or `policy_version_hash` is not the "
            "current policy of the region (`policy_outdated`)."
        ),
        422: problem_doc(
            "A required purpose is not granted (`purpose_required`) or the policy does not "
            "ask for a purpose named (`unknown_purpose`)."
        ),
    },
)
async def register(body: RegisterRequest, accounts: AccountsDep) -> SessionOut:
    """Create an account and sign in its first device.

    Passwords need at least 8 characters and must not be a common password; the region is
    the ISO 3166-1 country whose privacy policy applies to you. Registering consents to that
    policy: send the `version_hash` of its current version and your choice for each purpose
    it asks (`GET /v1/privacy/policy?country=…`).
    """
    result = await accounts.do_register(
        body.username, body.password, body.display_name, body.region, body.device_name,
        policy_version_hash=body.policy_version_hash, purposes=body.purposes,
    )  # fmt: skip
    return SessionOut(**result.__dict__)


@router.post(
    "/sessions",
    response_model=SessionOut,
    responses={
        401: problem_doc("Wrong username or password (the two are not told apart)."),
        429: problem_doc("Too many failed logins for this account or address."),
    },
)
async def login(body: LoginRequest, accounts: AccountsDep, address: ClientAddress) -> SessionOut:
    """Sign in: each login is a new device with its own access token."""
    result = await accounts.do_login(body.username, body.password, body.device_name, address)
    return SessionOut(**result.__dict__)


@router.delete("/sessions/current", status_code=status.HTTP_204_NO_CONTENT, responses=AUTH_PROBLEMS)
async def logout(identity: CurrentIdentityAnyConsent, accounts: AccountsDep) -> None:
    """Sign out this device: its token stops working and the device is removed."""
    await accounts.do_logout(identity)


@router.get("/account", response_model=AccountOut, responses=AUTH_PROBLEMS)
async def whoami(identity: CurrentIdentityAnyConsent, accounts: AccountsDep) -> AccountOut:
    """Who the token belongs to."""
    user = await accounts.get_user(identity.user_id)
    return _account_out(user, identity.device_id)


@router.patch("/account/profile", response_model=AccountOut, responses=AUTH_PROBLEMS)
async def update_profile(
    body: ProfileUpdate, identity: CurrentIdentity, accounts: AccountsDep
) -> AccountOut:
    """Change your display name; your other devices learn it through sync."""
    user = await accounts.do_update_profile(identity, body.display_name)
    return _account_out(user, identity.device_id)


@router.post(
    "/account/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        **AUTH_PROBLEMS,
        403: problem_doc("The current password is wrong."),
        429: problem_doc("Too many wrong passwords."),
    },
)
async def change_password(
    body: ChangePasswordRequest, identity: CurrentIdentity, accounts: AccountsDep
) -> None:
    """Change your password; by default every other device is signed out."""
    await accounts.do_change_password(
        identity,
        body.current_password,
        body.new_password,
        logout_other_devices=body.logout_other_devices,
    )


def _account_out(user: object, device_id: str) -> AccountOut:
    return AccountOut.model_validate({**vars(user), "device_id": device_id})
