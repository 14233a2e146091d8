"""Errors of the lawful-request desk; each ``code`` is documented in docs/legal-desk.md."""

from __future__ import annotations

from courtyard.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied


class CaseNotFound(NotFound):
    code = "case_not_found"
    title = "No lawful-request case has this id or reference"


class DocumentNotFound(NotFound):
    code = "document_not_found"
    title = "The case has no document with this id"


class PackageNotFound(NotFound):
    code = "package_not_found"
    title = "The case has no package with this id"


class CaseState(Conflict):
    code = "case_state"
    title = "This step does not fit the case's state"


class SameOperator(PermissionDenied):
    code = "same_operator"
    title = "The operator who reviewed a case cannot approve it"


class InsufficientProcess(PermissionDenied):
    code = "insufficient_process"
    title = "The rules refuse this data category for this process type"


class OutOfJurisdiction(PermissionDenied):
    code = "out_of_jurisdiction"
    title = "The target's registration country is outside the authority's jurisdiction"


class ReasonsRequired(InvalidInput):
    code = "reasons_required"
    title = "Say why: this step needs a reason"


class NothingNarrowed(InvalidInput):
    code = "nothing_narrowed"
    title = "A narrowing must drop a category, shorten the dates or exclude a target"


class ScopeWidened(InvalidInput):
    code = "scope_widened"
    title = "A review can only narrow what was requested"


class InvalidDocument(InvalidInput):
    code = "invalid_document"
    title = "A document must be a PDF or an image (PNG, JPEG, TIFF, WebP)"


class DocumentTooLarge(InvalidInput):
    code = "document_too_large"
    title = "A document is at most 10 MB"


class TooManyDocuments(InvalidInput):
    code = "too_many_documents"
    title = "A case takes at most 10 documents"


class NoticeNotDue(Conflict):
    code = "notice_not_due"
    title = "No notice can be sent yet"


class NoGag(Conflict):
    code = "no_gag"
    title = "The case has no non-disclosure order to lift"
