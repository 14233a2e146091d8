"""How the export shows stored values (ciphertext labelled, credentials withheld, times and
bytes as text) and its HTML page (self-contained, no script, everything escaped)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from courtyard.core.datamap import Declaration
from courtyard.domains.privacy import render_export_html
from courtyard.domains.privacy.export import CREDENTIAL_NOTE, E2EE_NOTE, NOTES, present

CONTENT = Declaration("e2ee_content", "x", ("contract",), "account")
PLAIN = Declaration("technical", "x", ("contract",), "account")
SECRET = Declaration("credential", "x", ("contract",), "account")
EVIL = '<script>alert("x")</script>'


def test_values_are_shown_as_the_export_promises() -> None:
    envelope = {"algorithm": "megolm.v1.aes-sha2", "ciphertext": "AAAA"}
    assert present(CONTENT, envelope) == {"ciphertext": envelope, "note": E2EE_NOTE}
    assert present(CONTENT, {"membership": "join"}) == {"membership": "join"}
    assert present(SECRET, "$argon2id$...") == {"withheld": CREDENTIAL_NOTE}
    assert present(SECRET, None) is None
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert present(PLAIN, moment) == "2026-01-02T03:04:05Z"
    assert present(PLAIN, dt.date(2026, 1, 2)) == "2026-01-02"
    assert present(PLAIN, b"\x00\xff") == "AP8="
    assert present(PLAIN, {"at": [moment]}) == {"at": ["2026-01-02T03:04:05Z"]}


def export_of(value: Any) -> dict[str, Any]:
    return {
        "manifest": {
            "format": "courtyard.export.v1",
            "generated_at": "2026-01-01T00:00:00Z",
            "user": {"user_id": "u1", "username": EVIL},
            "data_map": {"version": "abc", "url": "/v1/privacy/datamap"},
            "withheld": {"legal_case_targets": "why"},
            "notes": NOTES,
        },
        "data": {"messaging": {"timeline_events": [{"content": value, "type": EVIL}]}},
    }


def test_the_page_escapes_everything_and_runs_nothing() -> None:
    page = render_export_html(export_of({"ciphertext": {"body": EVIL}, "note": E2EE_NOTE}))
    assert page.startswith("<!doctype html>")
    assert "<script" not in page
    assert "&lt;script&gt;" in page
    assert "src=" not in page
    assert 'http-equiv="Content-Security-Policy" content="default-src \'none\'' in page
    assert E2EE_NOTE in page
    assert "legal_case_targets" in page  # what is left out, and why


def test_a_table_shows_why_it_is_kept() -> None:
    page = render_export_html(export_of(None))
    assert "Why: order a conversation" in page
    assert "timeline_events <small>(1)</small>" in page
