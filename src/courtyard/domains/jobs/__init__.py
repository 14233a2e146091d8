"""Due-time jobs: "do X once at time T" for every domain (wallet expiries, retention purges)."""

from courtyard.domains.jobs.claims import LEASE, MAX_ATTEMPTS, Job, Outcome, backoff, bucket_of
from courtyard.domains.jobs.errors import InvalidOutcome, JobNotFailed, UnknownJobKind
from courtyard.domains.jobs.reschedule import reschedule
from courtyard.domains.jobs.service import (
    DUE_JOBS,
    DueJobs,
    ExternalHandler,
    JobStatus,
    LocalHandler,
    complete_leased,
    error_code,
    job_row,
    schedule,
)

__all__ = [
    "DUE_JOBS",
    "LEASE",
    "MAX_ATTEMPTS",
    "DueJobs",
    "ExternalHandler",
    "InvalidOutcome",
    "Job",
    "JobNotFailed",
    "JobStatus",
    "LocalHandler",
    "Outcome",
    "UnknownJobKind",
    "backoff",
    "bucket_of",
    "complete_leased",
    "error_code",
    "job_row",
    "reschedule",
    "schedule",
]
