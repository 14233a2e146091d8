"""What the lawful-request desk stores and why (docs/data-map.md, docs/legal-desk.md)."""

from __future__ import annotations

from courtyard.core.datamap import Basis, DataMap, by_user, declare, no_subject, table

# Imported for its side effect: the export and the map check read these tables through the
# shared metadata, which only knows models that have been imported.
from courtyard.domains.legal import models as _models  # noqa: F401

OBLIGATION: tuple[Basis, ...] = ("legal_obligation",)
CASE_ONLY = "about the request, not a user: the accounts it names are legal_case_targets"
TARGETS_WITHHELD = (
    "the desk's record of which accounts a lawful request named; you are told of a request "
    "about you by a notice, at once or when its non-disclosure order ends"
)

LEGAL_DATA_MAP: DataMap = {
    "legal_cases": table(
        no_subject(CASE_ONLY),
        declare(
            "case_id reference authority country process_type authority_reference received_at "
            "date_from date_to categories gag gag_until status created_by reviewer_id "
            "reviewed_at review_outcome review_reasons approved_categories approved_from "
            "approved_to approver_id approved_at produced_at closed_at",
            "legal",
            "handle a lawful request from intake to closing: who asked, under what process, "
            "what was reviewed, narrowed, approved and produced; count it in the "
            "transparency report",
            OBLIGATION,
            "legal_record",
        ),
    ),
    "legal_case_targets": table(
        by_user("user_id", withheld=TARGETS_WITHHELD),
        declare(
            "case_id target_no identifier user_id user_region decision decision_reason "
            "notice_due_at notified_at",
            "legal",
            "the accounts a request names, whether the desk included each, and when its "
            "owner is told",
            OBLIGATION,
            "legal_record",
        ),
    ),
    "legal_case_documents": table(
        no_subject(CASE_ONLY),
        declare(
            "case_id document_id filename media_type sha256 size content added_at added_by",
            "legal",
            "keep the order or warrant served, with its hash",
            OBLIGATION,
            "legal_record",
        ),
    ),
    "legal_case_events": table(
        no_subject(CASE_ONLY),
        declare(
            "case_id event_no at actor kind detail",
            "legal",
            "the case's timeline: every step and who took it",
            OBLIGATION,
            "legal_record",
        ),
    ),
    "legal_packages": table(
        no_subject(CASE_ONLY),
        declare(
            "package_id case_id created_at created_by categories sha256 key_id signature size "
            "archive",
            "legal",
            "the signed disclosure archive: only approved categories, message content only as "
            "ciphertext",
            OBLIGATION,
            "legal_record",
        ),
    ),
}
