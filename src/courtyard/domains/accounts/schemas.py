"""Wire shapes of the accounts API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterRequest(_Strict):
    username: str = Field(min_length=1, max_length=64, examples=["alice"])
    password: str = Field(min_length=1, max_length=1024)
    display_name: str = Field(min_length=1, max_length=200, examples=["Alice"])
    region: str = Field(
        min_length=2, max_length=2, description="ISO 3166-1 alpha-2", examples=["DE"]
    )
    device_name: str | None = Field(default=None, max_length=200, examples=["Alice's laptop"])
    policy_version_hash: str = Field(
        pattern="^[0-9a-f]{64}$",
        description="The `version_hash` of the current privacy policy for `region` "
        "(`GET /v1/privacy/policy?country=…`): registering consents to it.",
    )
    purposes: dict[str, bool] = Field(
        default_factory=dict,
        max_length=32,
        description="Your choice for each purpose the policy asks; required purposes must be "
        "true, purposes left out are not granted.",
        examples=[{"marketing": False}],
    )


class LoginRequest(_Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    device_name: str | None = Field(default=None, max_length=200)


class SessionOut(BaseModel):
    user_id: str
    username: str
    device_id: str
    access_token: str = Field(description="Send as `Authorization: Bearer <token>`.")


class ChangePasswordRequest(_Strict):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)
    logout_other_devices: bool = True


class ProfileUpdate(_Strict):
    display_name: str = Field(min_length=1, max_length=200)


class AccountOut(BaseModel):
    user_id: str
    username: str
    display_name: str
    region: str
    device_id: str = Field(description="The device whose token made this request.")
    created_at: dt.datetime


class DeviceOut(BaseModel):
    device_id: str
    display_name: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    current: bool = Field(description="Whether this is the device making the request.")


class DeviceUpdate(_Strict):
    display_name: str = Field(min_length=1, max_length=200)


class UserOut(BaseModel):
    """What any signed-in user may learn about another by username."""

    user_id: str
    username: str
    display_name: str
