"""The export as one readable, self-contained HTML page: no script, no outside resource, every
value escaped (docs/data-map.md, "Export")."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from courtyard.domains.privacy.datamap_registry import get_data_map

DOMAIN_TITLES = {
    "accounts": "Your account and devices",
    "keys": "Your devices' public keys",
    "messaging": "Conversations and the messages you sent",
    "media": "Attachments you uploaded",
    "todevice": "Device-to-device messages",
    "streams": "What your devices were told (sync stream)",
    "wallet": "Wallet",
    "privacy": "Consents, requests and notices",
    "legal": "Lawful requests",
    "audit": "Access log: who touched your data",
}
STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}
h1{font-size:1.6rem}h2{border-bottom:2px solid #ccc;margin-top:2.5rem}h3{margin-bottom:.2rem}
p.why{color:#555;margin-top:0}table{border-collapse:collapse;margin:.5rem 0 1rem;width:100%}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{width:14rem;background:#f6f6f6;font-weight:600}pre{margin:0;white-space:pre-wrap;word-break:break-all}
.ct{display:inline-block;background:#eef;border:1px solid #99c;padding:0 .3rem;font-size:.85em}
.none{color:#999}.withheld{color:#a50}
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'"


def render_export_html(export: dict[str, Any]) -> str:
    """The export (as ``get_export`` returns it) as a standalone HTML document."""
    manifest = export["manifest"]
    user = manifest["user"]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>Your data — {_e(user.get('username') or user['user_id'])}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Everything Courtyard holds about {_e(user.get('username') or '')}</h1>",
        _manifest_table(manifest),
        "<h2>How to read this</h2><ul>",
        *(f"<li>{_e(note)}</li>" for note in manifest["notes"].values()),
        *(
            f"<li><b>{_e(name)}</b> is left out: {_e(reason)}</li>"
            for name, reason in manifest["withheld"].items()
        ),
        "</ul>",
    ]
    for domain, tables in export["data"].items():
        parts.append(f"<h2>{_e(DOMAIN_TITLES.get(domain, domain))}</h2>")
        for name, rows in tables.items():
            parts.append(_table_section(name, rows))
    parts.append("</body></html>")
    return "\n".join(parts)


def _manifest_table(manifest: dict[str, Any]) -> str:
    rows = [
        ("user id", manifest["user"]["user_id"]),
        ("username", manifest["user"].get("username")),
        ("generated at", manifest["generated_at"]),
        ("data map version", manifest["data_map"]["version"]),
        ("format", manifest["format"]),
    ]
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_value(v)}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def _table_section(name: str, rows: list[dict[str, Any]]) -> str:
    table_map = get_data_map().tables.get(name)
    purposes: list[str] = []
    if table_map is not None:
        for declaration in table_map.columns.values():
            if declaration.purpose not in purposes:
                purposes.append(declaration.purpose)
    head = f"<h3>{_e(name)} <small>({len(rows)})</small></h3>"
    why = f'<p class="why">Why: {_e("; ".join(purposes))}.</p>' if purposes else ""
    if not rows:
        return head + why + '<p class="none">Nothing stored.</p>'
    body = "".join(_row_table(row) for row in rows)
    return head + why + body


def _row_table(row: dict[str, Any]) -> str:
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_value(v)}</td></tr>" for k, v in row.items())
    return f"<table>{cells}</table>"


def _value(value: Any) -> str:
    if value is None:
        return '<span class="none">—</span>'
    if isinstance(value, dict) and set(value) == {"ciphertext", "note"}:
        note, body = _e(value["note"]), _e(_dump(value["ciphertext"]))
        return f'<span class="ct">{note}</span><pre>{body}</pre>'
    if isinstance(value, dict) and set(value) == {"withheld"}:
        return f'<span class="withheld">{_e(value["withheld"])}</span>'
    if isinstance(value, dict | list):
        return f"<pre>{_e(_dump(value))}</pre>"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return _e(str(value))


def _dump(value: Any) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False, sort_keys=True)


def _e(text: object) -> str:
    return escape(str(text), quote=True)
