"""Errors of the due-jobs domain."""

from __future__ import annotations

from courtyard.core.errors import CourtyardError, NotFound


class UnknownJobKind(CourtyardError):
    """No handler is registered for the job's kind on this node (e.g. an older node during a
    rolling upgrade); recorded as a failed attempt and retried with backoff."""

    code = "unknown_kind"
    title = "No handler for this job kind"


class InvalidOutcome(CourtyardError):
    """A handler returned something other than ``"applied"`` or ``"skipped"``."""

    code = "invalid_outcome"
    title = "The job handler returned an invalid outcome"


class JobNotFailed(NotFound):
    """``retry_failed`` was given an id that names no failed job."""

    code = "due_job_not_failed"
    title = "No failed job with this id"
