"""legal domain (docs/privacy.md): the lawful-request desk (docs/legal-desk.md) and the
transparency report computed from it."""

from courtyard.domains.legal.errors import (
    CaseNotFound,
    CaseState,
    InsufficientProcess,
    NoticeNotDue,
    OutOfJurisdiction,
    SameOperator,
)
from courtyard.domains.legal.intake import (
    GAG_KINDS,
    MAX_DOCUMENT_BYTES,
    MAX_DOCUMENTS,
    MAX_INTAKE_BYTES,
    Intake,
    Upload,
)
from courtyard.domains.legal.package import MANIFEST, SIGNATURE, STATEMENT, STATEMENT_FILE
from courtyard.domains.legal.review import Review
from courtyard.domains.legal.roles import (
    APPROVE_ROLES,
    HANDLE_ROLES,
    INTAKE_ROLES,
    REVIEW_ROLES,
    VIEW_ROLES,
)
from courtyard.domains.legal.rules import (
    CATEGORIES,
    CATEGORY_TABLES,
    PROCESS_TYPES,
    Advice,
    Evaluation,
    Rules,
    label,
    load_rules,
)
from courtyard.domains.legal.service import LegalDesk
from courtyard.domains.legal.signing import PackageSigner, verify_signature
from courtyard.domains.legal.store import NOTICE_JOB, STATUSES
from courtyard.domains.legal.transparency import (
    COUNT_NAMES,
    Counts,
    ListedPeriod,
    ReportRow,
    TransparencyReport,
    TransparencyReports,
)
from courtyard.domains.legal.transparency_periods import (
    InvalidPeriod,
    Period,
    ReportNotFound,
)
from courtyard.domains.legal.views import (
    CaseSummary,
    CaseView,
    DocumentView,
    EventView,
    PackageView,
    StoredFile,
    TargetView,
)
from courtyard.domains.legal.wiring import legal_desk_for

__all__ = [
    "APPROVE_ROLES",
    "CATEGORIES",
    "CATEGORY_TABLES",
    "COUNT_NAMES",
    "GAG_KINDS",
    "HANDLE_ROLES",
    "INTAKE_ROLES",
    "MANIFEST",
    "MAX_DOCUMENTS",
    "MAX_DOCUMENT_BYTES",
    "MAX_INTAKE_BYTES",
    "NOTICE_JOB",
    "PROCESS_TYPES",
    "REVIEW_ROLES",
    "SIGNATURE",
    "STATEMENT",
    "STATEMENT_FILE",
    "STATUSES",
    "VIEW_ROLES",
    "Advice",
    "CaseNotFound",
    "CaseState",
    "CaseSummary",
    "CaseView",
    "Counts",
    "DocumentView",
    "Evaluation",
    "EventView",
    "InsufficientProcess",
    "Intake",
    "InvalidPeriod",
    "LegalDesk",
    "ListedPeriod",
    "NoticeNotDue",
    "OutOfJurisdiction",
    "PackageSigner",
    "PackageView",
    "Period",
    "ReportNotFound",
    "ReportRow",
    "Review",
    "Rules",
    "SameOperator",
    "StoredFile",
    "TargetView",
    "TransparencyReport",
    "TransparencyReports",
    "Upload",
    "label",
    "legal_desk_for",
    "load_rules",
    "verify_signature",
]
