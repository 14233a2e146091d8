"""The data map's words for people: what each category means, each lawful basis under each
policy region's law, and how long each retention class keeps data there (docs/data-map.md,
"Retention", which names the rules these periods follow)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from courtyard.core.datamap import Basis, Category, Retention
from courtyard.core.regions import CN_POLICY, DEFAULT_POLICY, EU_POLICY


def years(count: int) -> dt.timedelta:
    """``count`` years, leap days included (a "keep at least N years" rule is never cut short)."""
    return dt.timedelta(days=365 * count + count // 4 + 1)


@dataclass(frozen=True, slots=True)
class RetentionTerm:
    """How long one retention class keeps data in one policy region: ``period`` after the
    moment ``text`` names, or no fixed period (``None``: until the event ``text`` names)."""

    text: str
    period: dt.timedelta | None
    source: str


CATEGORY_LABELS: dict[Category, tuple[str, str]] = {
    "identifier": ("Identifiers", "random ids that link your records together"),
    "profile": ("Your profile", "your username, display name and registration region"),
    "contact": ("Who you talk to", "your conversations, their members and what you have read"),
    "device": ("Your devices", "your signed-in devices and their public encryption keys"),
    "credential": ("Credentials", "hashes of your password, payment PIN and sign-in tokens"),
    "security": ("Security records", "sign-ins, locks and throttles that protect your account"),
    "e2ee_content": (
        "End-to-end encrypted content",
        "your messages and keys as ciphertext: the server stores them but cannot read them",
    ),
    "e2ee_reference": (
        "Facts about encrypted content",
        "who sent an encrypted message or file, when, and its size, but not what it says",
    ),
    "financial": ("Payments", "your wallet: balances, movements, transfers, payments and bills"),
    "financial_counterparty": (
        "Payment counterparties",
        "where a withdrawal went and your reference at a biller",
    ),
    "consent": ("Consents", "what you agreed to or withdrew, when and from which device"),
    "rights": ("Your requests", "erasure requests, complaints and notices we sent you"),
    "legal": ("Lawful requests and holds", "requests from authorities and legal holds"),
    "technical": ("Technical records", "what keeps delivery and retries exact"),
    "none": ("Not personal", "published texts and reference tables"),
}

BASIS_TEXT: dict[Basis, dict[str, str]] = {
    "contract": {
        CN_POLICY: "necessary to perform the contract you are party to (PIPL Art. 13(2))",
        EU_POLICY: "necessary to perform our contract with you (GDPR Art. 6(1)(b))",
        DEFAULT_POLICY: "needed to provide the service you signed up for",
    },
    "legal_obligation": {
        CN_POLICY: "necessary to fulfil a legal duty or obligation (PIPL Art. 13(3))",
        EU_POLICY: "necessary to comply with a legal obligation (GDPR Art. 6(1)(c))",
        DEFAULT_POLICY: "required by law",
    },
    "legitimate_interest": {
        # PIPL has no legitimate-interests basis: security of the service is part of
        # performing the contract, and operator records part of human-resources management.
        CN_POLICY: "necessary to perform the contract securely, or for staff management "
        "(PIPL Art. 13(2))",
        EU_POLICY: "our legitimate interest in a secure, accountable service (GDPR Art. 6(1)(f))",
        DEFAULT_POLICY: "to keep the service secure and accountable",
    },
    "consent": {
        CN_POLICY: "your consent, separate where PIPL Art. 29 or 39 asks (PIPL Art. 13(1))",
        EU_POLICY: "your consent (GDPR Art. 6(1)(a))",
        DEFAULT_POLICY: "your consent",
    },
    "none": {
        CN_POLICY: "not personal information",
        EU_POLICY: "not personal data",
        DEFAULT_POLICY: "not personal data",
    },
}

_FINANCIAL = {
    CN_POLICY: RetentionTerm(
        "10 years after the transaction, or after your account closes for account records",
        years(10),
        "Anti-Money Laundering Law of the PRC as revised in 2024 and the PBoC/NFRA/CSRC "
        "measures on customer due diligence and record keeping (2025 draft)",
    ),
    EU_POLICY: RetentionTerm(
        "5 years after the transaction, or after your account closes for account records",
        years(5),
        "Directive (EU) 2015/849 Art. 40; Regulation (EU) 2024/1624 Art. 77",
    ),
    DEFAULT_POLICY: RetentionTerm(
        "5 years after the transaction, or after your account closes for account records",
        years(5),
        "FATF Recommendation 11",
    ),
}
_EVIDENCE = {
    CN_POLICY: RetentionTerm(
        "3 years after your account ends", years(3), "Civil Code of the PRC Art. 188"
    ),
    EU_POLICY: RetentionTerm(
        "3 years after your account ends",
        years(3),
        "GDPR Art. 7(1), Art. 5(2); a 3-year limitation period for claims",
    ),
    DEFAULT_POLICY: RetentionTerm(
        "3 years after your account ends", years(3), "a 3-year limitation period for claims"
    ),
}


_FOREVER_LOG = (
    "for the life of the service: the log is append-only and hash-linked, so any deletion "
    "would be detected; entries name you by id only"
)
_AUDIT_LOG = {
    CN_POLICY: RetentionTerm(
        _FOREVER_LOG, None, "Cybersecurity Law of the PRC Art. 21 (network logs, 6 months at least)"
    ),
    EU_POLICY: RetentionTerm(_FOREVER_LOG, None, "GDPR Art. 5(2) (accountability)"),
    DEFAULT_POLICY: RetentionTerm(_FOREVER_LOG, None, "accountability for every access"),
}
# Sources that are our own choices rather than rules; the policy lists only the rules.
OWN_CHOICES = ("our choice", "data minimisation", "evidence")


def _everywhere(term: RetentionTerm) -> dict[str, RetentionTerm]:
    return dict.fromkeys((CN_POLICY, EU_POLICY, DEFAULT_POLICY), term)


RETENTION_TERMS: dict[Retention, dict[str, RetentionTerm]] = {
    "financial_record": _FINANCIAL,
    "account": _everywhere(
        RetentionTerm(
            "until your account is erased (30 days after you ask)", None, "data minimisation"
        )
    ),
    "30d": _everywhere(RetentionTerm("30 days", dt.timedelta(days=30), "our choice")),
    "done+90d": _everywhere(
        RetentionTerm("90 days after the job is done", dt.timedelta(days=90), "our choice")
    ),
    "while_used": _everywhere(
        RetentionTerm(
            "while in use: deleted at sign-out, when the device or key is removed or used, "
            "or with the account",
            None,
            "data minimisation",
        )
    ),
    "until_delivered": _everywhere(
        RetentionTerm("until the receiving device has it, or is removed", None, "data minimisation")
    ),
    "throttle_window": _everywhere(
        RetentionTerm(
            "the login throttle's window (an hour by default)",
            dt.timedelta(hours=1),
            "our choice",
        )
    ),
    "evidence": _EVIDENCE,
    "legal_record": _everywhere(
        RetentionTerm(
            "5 years after the case closes or the hold is released",
            years(5),
            "our choice: the transparency reports cover that history",
        )
    ),
    "audit_log": _AUDIT_LOG,
    "published": _everywhere(
        RetentionTerm("for good: every version you may have agreed to", None, "evidence")
    ),
}


def retention_term(retention: Retention, policy_region: str) -> RetentionTerm:
    """The term of ``retention`` in ``policy_region`` (an unknown region gets ``default``'s)."""
    terms = RETENTION_TERMS[retention]
    return terms.get(policy_region, terms[DEFAULT_POLICY])


def basis_text(basis: Basis, policy_region: str) -> str:
    """The lawful basis as the region's law names it."""
    texts = BASIS_TEXT[basis]
    return texts.get(policy_region, texts[DEFAULT_POLICY])
