"""What the privacy domain stores and why: policies, consents, your requests about your data,
legal holds and notices to you (docs/data-map.md)."""

from __future__ import annotations

from courtyard.core.datamap import Basis, DataMap, by_user, declare, no_subject, table

OBLIGATION: tuple[Basis, ...] = ("legal_obligation",)

PRIVACY_DATA_MAP: DataMap = {
    "privacy_policies": table(
        no_subject("published texts, the same for everyone in a region"),
        declare(
            "policy_region version version_hash title body purposes published_at published_by",
            "none",
            "publish each region's privacy policy and keep every version you may have agreed to",
            OBLIGATION,
            "published",
        ),
    ),
    "user_consents": table(
        by_user("user_id"),
        declare(
            "user_id policy_region policy_version version_hash consented_at device_id",
            "consent",
            "know that you agreed to the current version of your region's policy",
            OBLIGATION,
            "account",
        ),
    ),
    "purpose_consents": table(
        by_user("user_id"),
        declare(
            "user_id purpose granted updated_at",
            "consent",
            "know which separate purposes you currently allow",
            ("consent", "legal_obligation"),
            "account",
        ),
    ),
    "consent_records": table(
        by_user("user_id"),
        declare(
            "user_id record_id kind policy_region policy_version version_hash purpose granted "
            "device_id at",
            "consent",
            "prove what you agreed to or withdrew, when and from which device",
            OBLIGATION,
            "evidence",
        ),
    ),
    "erasure_requests": table(
        by_user("user_id"),
        declare(
            "user_id requested_at due_at device_id status held_reason completed_at",
            "rights",
            "carry out your erasure request after its grace period, and prove it was done",
            OBLIGATION,
            "evidence",
        ),
        declare(
            "pseudonym",
            "identifier",
            "the pseudonym that replaces your id in the payment records kept after erasure",
            OBLIGATION,
            "financial_record",
        ),
    ),
    "complaints": table(
        by_user("user_id"),
        declare(
            "complaint_id user_id subject body created_at due_at status answer answered_by "
            "answered_at",
            "rights",
            "answer your complaint by its deadline, and prove it was answered",
            OBLIGATION,
            "evidence",
        ),
    ),
    "legal_holds": table(
        by_user("user_id"),
        declare(
            "hold_id user_id case_id reason placed_at placed_by released_at released_by "
            "release_reason",
            "legal",
            "keep data that a court, an authority or litigation requires preserved, past "
            "erasure and the retention purge",
            OBLIGATION,
            "legal_record",
        ),
    ),
    "user_notices": table(
        by_user("user_id"),
        declare(
            "user_id notice_id kind title body created_at",
            "rights",
            "tell you about lawful requests for your data, answered complaints and new "
            "policy versions",
            OBLIGATION,
            "account",
        ),
    ),
}
