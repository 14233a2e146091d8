"""Errors of the audit log, each with a stable code."""

from __future__ import annotations

from courtyard.core.errors import Conflict, InvalidInput, NotFound


class NoTreeHead(NotFound):
    code = "no_tree_head"
    title = "No tree head has been signed yet"


class InvalidTreeSize(InvalidInput):
    code = "invalid_tree_size"
    title = "The tree sizes do not name signed parts of the log"


class AuditLogBroken(Conflict):
    """The stored log no longer matches what was signed; the server will not sign over it."""

    code = "audit_log_broken"
    title = "The audit log does not match its signed heads"
