"""Accounts, sessions, devices and operators."""

from courtyard.domains.accounts.disclosure import (
    NamedAccount,
    find_accounts,
    get_connection_records,
    get_operator_names,
    get_subscriber_record,
)
from courtyard.domains.accounts.erasure import AccountFacts, erase_account, get_account_facts
from courtyard.domains.accounts.errors import (
    DeviceNotFound,
    InvalidCredentials,
    InvalidToken,
    LoginThrottled,
    RoleRequired,
    UsernameTaken,
    UserNotFound,
    WeakPassword,
)
from courtyard.domains.accounts.operator_log import (
    ActionFilter,
    OperatorActionRecord,
    OperatorActionsLog,
)
from courtyard.domains.accounts.operator_roster import OperatorEntry, OperatorRoster
from courtyard.domains.accounts.operator_sessions import (
    ABSOLUTE_TIMEOUT,
    IDLE_TIMEOUT,
    NewSession,
    OperatorSessions,
    SignedInOperator,
)
from courtyard.domains.accounts.operators import (
    OPERATOR_ROLES,
    OperatorsService,
    operator_actor,
    record_operator_action,
)
from courtyard.domains.accounts.passwords import Hasher, check_password_rules
from courtyard.domains.accounts.service import (
    AccountsService,
    Identity,
    LoginResult,
    RegistrationConsent,
    WrongPassword,
    existing_devices,
    existing_users,
    get_profiles,
    get_user_id_by_username,
    get_user_region,
)
from courtyard.domains.accounts.throttle import LoginThrottle, ThrottleLimits, account_key

__all__ = [
    "ABSOLUTE_TIMEOUT",
    "IDLE_TIMEOUT",
    "OPERATOR_ROLES",
    "AccountFacts",
    "AccountsService",
    "ActionFilter",
    "DeviceNotFound",
    "Hasher",
    "Identity",
    "InvalidCredentials",
    "InvalidToken",
    "LoginResult",
    "LoginThrottle",
    "LoginThrottled",
    "NamedAccount",
    "NewSession",
    "OperatorActionRecord",
    "OperatorActionsLog",
    "OperatorEntry",
    "OperatorRoster",
    "OperatorSessions",
    "OperatorsService",
    "RegistrationConsent",
    "RoleRequired",
    "SignedInOperator",
    "ThrottleLimits",
    "UserNotFound",
    "UsernameTaken",
    "WeakPassword",
    "WrongPassword",
    "account_key",
    "check_password_rules",
    "erase_account",
    "existing_devices",
    "existing_users",
    "find_accounts",
    "get_account_facts",
    "get_connection_records",
    "get_operator_names",
    "get_profiles",
    "get_subscriber_record",
    "get_user_id_by_username",
    "get_user_region",
    "operator_actor",
    "record_operator_action",
]
