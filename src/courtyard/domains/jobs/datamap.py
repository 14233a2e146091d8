"""What the jobs domain stores and why: "do X once at time T" (docs/data-map.md)."""

from __future__ import annotations

from courtyard.core.datamap import DataMap, declare, no_subject, table

JOBS_DATA_MAP: DataMap = {
    "due_jobs": table(
        no_subject("a job names a flow or operation by id; that flow's table says whose it is"),
        declare(
            "bucket job_id kind ref_id due_at state outcome attempts last_error created_at done_at",
            "technical",
            "run expiries and provider follow-ups once",
            ("contract",),
            "done+90d",
        ),
    ),
}
