"""Privacy: region policies and consent, the data map, user rights (export, erasure,
complaints), retention and legal holds (docs/privacy.md)."""

from courtyard.domains.privacy.consent import (
    CONSENT_EVENT,
    ConsentService,
    ConsentState,
    PurposeState,
)
from courtyard.domains.privacy.consent_errors import (
    ConsentRequired,
    InvalidPolicy,
    PolicyNotFound,
    PolicyOutdated,
    PurposeNotFound,
    PurposeRequired,
    UnknownPurpose,
)
from courtyard.domains.privacy.consent_gate import ConsentGate, HeldConsent, Scope
from courtyard.domains.privacy.datamap_registry import (
    RegisteredMap,
    TableNotDeclared,
    data_map_json,
    get_data_map,
)
from courtyard.domains.privacy.datamap_text import render_data_section
from courtyard.domains.privacy.export import do_export, get_export
from courtyard.domains.privacy.export_access_log import AccessLogPage, get_access_log
from courtyard.domains.privacy.export_html import render_export_html
from courtyard.domains.privacy.hold_counts import case_holds_active_at
from courtyard.domains.privacy.holds import get_active_holds, place_hold, release_hold
from courtyard.domains.privacy.notices import NOTICE_KINDS, add_user_notice, get_user_notices

__all__ = [
    "CONSENT_EVENT",
    "NOTICE_KINDS",
    "AccessLogPage",
    "ConsentGate",
    "ConsentRequired",
    "ConsentService",
    "ConsentState",
    "HeldConsent",
    "InvalidPolicy",
    "PolicyNotFound",
    "PolicyOutdated",
    "PurposeNotFound",
    "PurposeRequired",
    "PurposeState",
    "RegisteredMap",
    "Scope",
    "TableNotDeclared",
    "UnknownPurpose",
    "add_user_notice",
    "case_holds_active_at",
    "data_map_json",
    "do_export",
    "get_access_log",
    "get_active_holds",
    "get_data_map",
    "get_export",
    "get_user_notices",
    "place_hold",
    "release_hold",
    "render_data_section",
    "render_export_html",
]
