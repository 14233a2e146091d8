"""Who may run each ``courtyard admin …`` command: one table, with least privilege, read by
the commands (``roles_of``) and checked against them by tests/integration/
test_admin_cli_roles.py, which fails on an admin command missing here. The console's pages
check the same roles (docs/admin-console.md, "Roles")."""

from __future__ import annotations

from types import MappingProxyType

ADMIN = ("admin",)
MONEY = ("admin", "finance")  # the ledger, its oversight and the payees
MONEY_READ = ("admin", "finance", "support")  # support answers "why can't I pay this shop?"
ANY_OPERATOR = ("admin", "finance", "legal_reviewer", "legal_approver", "support")
# The lawful-request desk: the same tuples as domains/legal/roles.py (docs/legal-desk.md).
LEGAL_VIEW = ("legal_reviewer", "legal_approver", "admin")
LEGAL_HANDLE = ("legal_reviewer", "legal_approver")  # intake, holds, notices, orders, closing
LEGAL_REVIEW = ("legal_reviewer",)
LEGAL_APPROVE = ("legal_approver",)  # approval and the package
# Legal holds outside a case, and complaints (docs/user-rights.md).
HOLDS = ("admin", "legal_reviewer", "legal_approver")
COMPLAINTS = ("support", "admin")

# Keyed by the command's words after ``courtyard admin``; roles are "any one of".
ADMIN_COMMAND_ROLES: MappingProxyType[str, tuple[str, ...]] = MappingProxyType({
    "create-operator": ADMIN,  # no operator needed while none exists (the first admin)
    "operator list": ADMIN,
    "operator roles": ADMIN,
    "datamap": ANY_OPERATOR,  # the same map is public at GET /v1/privacy/datamap
    "policy publish": ADMIN,  # its users must consent again (docs/privacy-consent.md)
    "policy list": ANY_OPERATOR,  # the texts are public (GET /v1/privacy/policies/…)
    "policy show": ANY_OPERATOR,
    "wallet audit": MONEY,
    "wallet reconcile": MONEY,
    "wallet reconcile-resolve": MONEY,
    "wallet freeze": MONEY,
    "wallet unfreeze": MONEY,
    "wallet merchant create": MONEY,
    "wallet merchant list": MONEY_READ,
    "wallet merchant suspend": MONEY,
    "wallet merchant activate": MONEY,
    "wallet biller create": MONEY,
    "wallet biller list": MONEY_READ,
    "wallet biller disable": MONEY,
    "wallet biller enable": MONEY,
    "legal intake": LEGAL_HANDLE,
    "legal list": LEGAL_VIEW,
    "legal show": LEGAL_VIEW,
    "legal rules": LEGAL_VIEW,
    "legal review": LEGAL_REVIEW,
    "legal approve": LEGAL_APPROVE,
    "legal package": LEGAL_APPROVE,
    "legal hold": LEGAL_HANDLE,
    "legal release-holds": LEGAL_HANDLE,
    "legal notify": LEGAL_HANDLE,
    "legal lift-gag": LEGAL_HANDLE,
    "legal close": LEGAL_HANDLE,
    "privacy purge": ADMIN,
    "privacy holds": HOLDS,
    "privacy hold place": HOLDS,
    "privacy hold release": HOLDS,
    "privacy complaints": COMPLAINTS,
    "privacy complaint answer": COMPLAINTS,
})  # fmt: skip

# Operator commands outside ``courtyard admin``, keyed by their words after ``courtyard``.
OTHER_COMMAND_ROLES: MappingProxyType[str, tuple[str, ...]] = MappingProxyType({
    "audit log": ADMIN,  # every operator's actions and every view of user data
})  # fmt: skip


def roles_of(command: str) -> tuple[str, ...]:
    """The roles that may run ``courtyard admin <command>``; a KeyError for an undeclared
    command, so a command cannot run before it is in the table."""
    return ADMIN_COMMAND_ROLES[command]
