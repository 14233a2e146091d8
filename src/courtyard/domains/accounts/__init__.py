"""Accounts, sessions, devices and operators."""

from courtyard.domains.accounts.errors import (
    DeviceNotFound,
    InvalidCredentials,
    InvalidToken,
    LoginThrottled,
    RoleRequired,
    UsernameTaken,
    WeakPassword,
)
from courtyard.domains.accounts.operator_log import OperatorActionRecord, OperatorActionsLog
from courtyard.domains.accounts.operator_sessions import (
    NewSession,
    OperatorSessions,
    SignedInOperator,
)
from courtyard.domains.accounts.operators import (
    OPERATOR_ROLES,
    OperatorsService,
    record_operator_action,
)
from courtyard.domains.accounts.passwords import Hasher, check_password_rules
from courtyard.domains.accounts.service import (
    AccountsService,
    Identity,
    LoginResult,
    WrongPassword,
    existing_devices,
    existing_users,
    get_profiles,
    get_user_id_by_username,
)
from courtyard.domains.accounts.throttle import LoginThrottle, ThrottleLimits

__all__ = [
    "OPERATOR_ROLES",
    "AccountsService",
    "DeviceNotFound",
    "Hasher",
    "Identity",
    "InvalidCredentials",
    "InvalidToken",
    "LoginResult",
    "LoginThrottle",
    "LoginThrottled",
    "NewSession",
    "OperatorActionRecord",
    "OperatorActionsLog",
    "OperatorSessions",
    "OperatorsService",
    "RoleRequired",
    "SignedInOperator",
    "ThrottleLimits",
    "UsernameTaken",
    "WeakPassword",
    "WrongPassword",
    "check_password_rules",
    "existing_devices",
    "existing_users",
    "get_profiles",
    "get_user_id_by_username",
    "record_operator_action",
]
