"""What the accounts domain stores and why: members (their account, usernames, devices and
sign-in tokens, failed logins) and operators (docs/data-map.md). What operators do is in the
audit log (domains/audit/datamap.py)."""

from __future__ import annotations

from courtyard.core.datamap import Basis, DataMap, by_user, declare, no_subject, table

CONTRACT: tuple[Basis, ...] = ("contract",)
SECURITY: tuple[Basis, ...] = ("contract", "legitimate_interest")
STAFF: tuple[Basis, ...] = ("legitimate_interest",)
STAFF_ONLY = "operators are the service's staff, not members"

MEMBER_DATA_MAP: DataMap = {
    "users": table(
        by_user("user_id"),
        declare("user_id", "identifier", "identify your account", CONTRACT, "account"),
        declare(
            "username display_name region",
            "profile",
            "let people find you by username and see your name; your region picks the "
            "privacy policy and the rules that apply to you",
            CONTRACT,
            "account",
        ),
        declare(
            "password_hash",
            "credential",
            "sign you in (an argon2id hash, never the password)",
            CONTRACT,
            "account",
        ),
        declare(
            "created_at password_changed_at",
            "security",
            "know when the account and its password were set, to end older sign-ins",
            SECURITY,
            "account",
        ),
    ),
    "usernames": table(
        by_user("user_id"),
        declare("username user_id", "profile", "keep usernames unique", CONTRACT, "account"),
    ),
    "devices": table(
        by_user("user_id"),
        declare(
            "user_id device_id display_name created_at last_seen_at acked_position",
            "device",
            "list your signed-in devices and resume their sync where it stopped",
            CONTRACT,
            "while_used",
        ),
    ),
    "access_tokens": table(
        by_user("user_id"),
        declare(
            "token_hash",
            "credential",
            "keep a device signed in (the SHA-256 of its token, never the token)",
            CONTRACT,
            "while_used",
        ),
        declare(
            "user_id device_id created_at",
            "security",
            "know which device a sign-in belongs to, so signing out ends it",
            CONTRACT,
            "while_used",
        ),
    ),
    "login_failures": table(
        no_subject(
            "keyed by the username typed (whether or not it exists) or a hash of the network "
            "address, never by account; gone after the throttle window"
        ),
        declare(
            "scope_key failure_id failed_at",
            "security",
            "slow down password guessing",
            ("legitimate_interest",),
            "throttle_window",
        ),
    ),
}

OPERATOR_DATA_MAP: DataMap = {
    "operators": table(
        no_subject(STAFF_ONLY),
        declare(
            "operator_id username roles created_at",
            "identifier",
            "know who runs the server and what each operator may do",
            STAFF,
            "while_used",
        ),
        declare(
            "password_hash",
            "credential",
            "sign operators in to the console (argon2id, never the password)",
            STAFF,
            "while_used",
        ),
    ),
    "operator_sessions": table(
        no_subject(STAFF_ONLY),
        declare(
            "token_hash operator_id created_at last_seen_at",
            "security",
            "keep an operator signed in to the console; a session ends after 30 idle minutes "
            "or 12 hours and its row is purged within minutes",
            STAFF,
            "30d",
        ),
    ),
}

ACCOUNTS_DATA_MAP: DataMap = {**MEMBER_DATA_MAP, **OPERATOR_DATA_MAP}
