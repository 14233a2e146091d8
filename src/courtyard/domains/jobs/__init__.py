"""Due-time jobs: "do X once at time T" for every domain (wallet expiries, retention purges)."""

from courtyard.domains.jobs.claims import LEASE, MAX_ATTEMPTS, Job, Outcome, backoff, bucket_of
from courtyard.domains.jobs.errors import InvalidOutcome, JobNotFailed, UnknownJobKind
from courtyard.domains.jobs.service import (
    DueJobs,
    ExternalHandler,
    JobStatus,
    LocalHandler,
    error_code,
    schedule,
)

__all__ = [
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
    "error_code",
    "schedule",
]
