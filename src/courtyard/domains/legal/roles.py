"""Which operator roles may do what at the desk; the console and the CLI check the same
tuples (docs/legal-desk.md, "Roles")."""

from __future__ import annotations

VIEW_ROLES = ("legal_reviewer", "legal_approver", "admin")  # list, case, documents, rules
INTAKE_ROLES = ("legal_reviewer", "legal_approver")
REVIEW_ROLES = ("legal_reviewer",)
APPROVE_ROLES = ("legal_approver",)  # approval, making and downloading the package
HANDLE_ROLES = ("legal_reviewer", "legal_approver")  # holds, notices, lifting an order, closing
