"""What the accounts domain stores about operators and why: table → column → declaration.

The member tables (users, devices, tokens, login failures) are declared by issue 6 with the
rest of the privacy policy; the operator tables are declared here, with the console that
fills them (docs/wallet.md, "Data map").
"""

from __future__ import annotations

from courtyard.core.datamap import Basis, Declaration, declare

STAFF: tuple[Basis, ...] = ("legitimate_interest",)
OVERSIGHT: tuple[Basis, ...] = ("legal_obligation", "legitimate_interest")

OPERATOR_DATA_MAP: dict[str, dict[str, Declaration]] = {
    "operators": {
        **declare(
            "operator_id username roles created_at",
            "identifier",
            "know who runs the server and what each operator may do",
            STAFF,
            "while_used",
        ),
        **declare(
            "password_hash",
            "security",
            "sign operators in to the console (argon2id, never the password)",
            STAFF,
            "while_used",
        ),
    },
    "operator_actions": declare(
        "action_id operator_id action target note at",
        "security",
        "prove which operator looked at or changed whose data, when and why",
        OVERSIGHT,
        "financial_record",
    ),
    "operator_sessions": declare(
        "token_hash operator_id created_at last_seen_at",
        "security",
        "keep an operator signed in to the console; a session ends after 30 idle minutes or "
        "12 hours and its row is purged within minutes",
        STAFF,
        "30d",
    ),
}
