"""Errors of the user-rights part of the privacy domain, each with a stable code
(docs/user-rights.md, "Failure codes")."""

from __future__ import annotations

from courtyard.core.errors import Conflict, InvalidInput, NotFound


class WalletNotEmpty(Conflict):
    code = "wallet_not_empty"
    title = "Erasure needs an empty wallet: withdraw your balance and wait for money in flight"


class ErasurePending(Conflict):
    code = "erasure_pending"
    title = "You have already asked for your account to be erased"


class ErasureNotFound(NotFound):
    code = "erasure_not_found"
    title = "You have not asked for your account to be erased"


class ErasureNotPending(Conflict):
    code = "erasure_not_pending"
    title = "This erasure request is no longer pending"


class ComplaintNotFound(NotFound):
    code = "complaint_not_found"
    title = "No such complaint"


class ComplaintAnswered(Conflict):
    code = "complaint_answered"
    title = "This complaint has already been answered"


class TooManyOpenComplaints(Conflict):
    code = "too_many_open_complaints"
    title = "You have too many complaints waiting for an answer"


class AnswerRequired(InvalidInput):
    code = "answer_required"
    title = "Write an answer"


class ReasonRequired(InvalidInput):
    code = "reason_required"
    title = "Give a reason (1 to 500 characters)"


class HoldNotFound(NotFound):
    code = "hold_not_found"
    title = "No active legal hold with this id"
