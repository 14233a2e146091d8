"""Errors of the accounts domain, each with a stable code."""

from __future__ import annotations

from courtyard.core.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    TooManyRequests,
)


class WeakPassword(InvalidInput):
    code = "weak_password"
    title = "The password does not meet the rules"


class InvalidUsername(InvalidInput):
    code = "invalid_username"
    title = "The username is not valid"


class InvalidRegion(InvalidInput):
    code = "invalid_region"
    title = "The region is not an ISO 3166-1 alpha-2 country code"


class UsernameTaken(Conflict):
    code = "username_taken"
    title = "That username is taken"


class InvalidCredentials(NotAuthenticated):
    code = "invalid_credentials"
    title = "Wrong username or password"


class InvalidToken(NotAuthenticated):
    code = "invalid_token"
    title = "The access token is missing, unknown or revoked"


class LoginThrottled(TooManyRequests):
    code = "login_throttled"
    title = "Too many failed logins; try again later"


class DeviceNotFound(NotFound):
    code = "device_not_found"
    title = "No such device"


class OperatorExists(Conflict):
    code = "operator_exists"
    title = "An operator with that username exists"


class UserNotFound(NotFound):
    code = "user_not_found"
    title = "No such user"


class RoleRequired(PermissionDenied):
    code = "role_required"
    title = "Your operator roles do not allow this"
