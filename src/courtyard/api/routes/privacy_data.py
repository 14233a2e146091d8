"""Your data: the public data map, your export (JSON or HTML) and your access log
(docs/data-map.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse

from courtyard.api.deps import CurrentIdentityAnyConsent, RuntimeDep
from courtyard.api.problems import AUTH_PROBLEMS, COMMON_PROBLEMS, problem_doc
from courtyard.domains.privacy import (
    data_map_json,
    do_export,
    get_access_log,
    get_data_map,
    render_export_html,
)

router = APIRouter(prefix="/v1/privacy", tags=["privacy"], responses=COMMON_PROBLEMS)
# As the page's own meta tag says: nothing but its inline style may load or run.
EXPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'"
TableName = Annotated[
    str | None, Query(max_length=64, pattern=r"^[a-z0-9_]+$", description="One table only.")
]


@router.get(
    "/datamap", responses={404: problem_doc("table_not_declared: the map has no such table.")}
)
async def get_datamap(table: TableName = None) -> dict[str, Any]:
    """The data map, public: every table this server stores and, for each column, its
    category, purpose, lawful basis and retention class, and how a table's rows belong to a
    user (`subject`). `version` is the hash an export's manifest names."""
    return data_map_json(get_data_map(), only=table)


@router.get(
    "/export",
    response_model=None,
    responses={
        **AUTH_PROBLEMS,
        200: {
            "description": "The export, as a file to save.",
            "content": {"application/json": {}, "text/html": {}},
        },
    },
)
async def get_export(
    identity: CurrentIdentityAnyConsent,
    runtime: RuntimeDep,
    format: Literal["json", "html"] = "json",
) -> JSONResponse | HTMLResponse:
    """Everything this server holds about you: account, devices, public keys, conversations,
    the messages you sent (as ciphertext, labelled so: the server cannot read them),
    attachments' metadata, wallet records, consents, requests, notices and your access log.
    `format=html` is one readable page. Works before you consent to a new policy version.
    Each export is recorded in your access log."""
    export = await do_export(runtime.db, runtime.clock, identity.user_id, format)
    stamp = export["manifest"]["generated_at"][:10]
    disposition = f'attachment; filename="courtyard-export-{stamp}.{format}"'
    if format == "html":
        return HTMLResponse(
            render_export_html(export),
            headers={
                "Content-Disposition": disposition,
                "Content-Security-Policy": EXPORT_CSP,
                "X-Content-Type-Options": "nosniff",
            },
        )
    return JSONResponse(export, headers={"Content-Disposition": disposition})


@router.get("/access-log", responses=AUTH_PROBLEMS)
async def get_my_access_log(
    identity: CurrentIdentityAnyConsent,
    runtime: RuntimeDep,
    before: Annotated[int | None, Query(ge=0, description="`next_before` of a page.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Who accessed your data, newest first: every operator, mini-app and legal-desk access
    and your own exports, from the tamper-evident audit log (`seq` is the entry's position).
    Pass `next_before` as `before` for older entries; it is null at the end."""
    page = await get_access_log(
        runtime.db, runtime.clock, identity.user_id, before=before, limit=limit
    )
    return {"entries": page.entries, "next_before": page.next_before}
