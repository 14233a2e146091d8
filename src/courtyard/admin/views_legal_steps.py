"""A case's other steps in the console: holds, the package (made and downloaded), notices,
lifting a non-disclosure order, closing, and the served documents."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.admin.guard import requires
from courtyard.admin.pages import Pages, Viewer, form_text, go, services, status_of
from courtyard.admin.views_legal_case import CASE, case_page, case_path
from courtyard.core.errors import CourtyardError
from courtyard.domains.legal import (
    APPROVE_ROLES,
    HANDLE_ROLES,
    VIEW_ROLES,
    CaseView,
    LegalDesk,
    StoredFile,
)

Act = Callable[[LegalDesk, str, str, dict[str, str]], Awaitable[CaseView]]


async def _act(request: Request, viewer: Viewer, act: Act) -> Response:
    """Run one step on the case; a refusal shows the case page with the reason."""
    form = await request.form()
    typed = {key: form_text(form, key, 500) for key in form}
    try:
        await act(
            services(request).legal, request.path_params["case_id"], viewer.operator_id, typed
        )
    except CourtyardError as exc:
        return await case_page(request, viewer, status_of(exc), exc.detail, form)
    return go(request, case_path(request))


def _file(stored: StoredFile) -> Response:
    disposition = f"attachment; filename*=UTF-8''{quote(stored.filename)}"
    return Response(
        stored.content, media_type=stored.media_type,
        headers={"Content-Disposition": disposition},
    )  # fmt: skip


@requires(*HANDLE_ROLES)
async def place_holds(request: Request, viewer: Viewer) -> Response:
    return await _act(request, viewer, lambda desk, key, who, f: desk.do_place_holds(
        key, operator_id=who, reason=f.get("reason", "")))  # fmt: skip


@requires(*HANDLE_ROLES)
async def release_holds(request: Request, viewer: Viewer) -> Response:
    return await _act(request, viewer, lambda desk, key, who, f: desk.do_release_holds(
        key, operator_id=who, reason=f.get("reason", "")))  # fmt: skip


@requires(*APPROVE_ROLES)
async def make_package(request: Request, viewer: Viewer) -> Response:
    return await _act(request, viewer, lambda desk, key, who, _f: desk.do_package(
        key, operator_id=who))  # fmt: skip


@requires(*APPROVE_ROLES)
async def download_package(request: Request, viewer: Viewer) -> Response:
    stored = await services(request).legal.access_package(
        request.path_params["case_id"], request.path_params["package_id"],
        operator_id=viewer.operator_id,
    )  # fmt: skip
    return _file(stored)


@requires(*VIEW_ROLES)
async def document(request: Request, viewer: Viewer) -> Response:
    stored = await services(request).legal.access_document(
        request.path_params["case_id"], request.path_params["document_id"],
        operator_id=viewer.operator_id,
    )  # fmt: skip
    return _file(stored)


@requires(*HANDLE_ROLES)
async def notify(request: Request, viewer: Viewer) -> Response:
    return await _act(request, viewer, lambda desk, key, who, _f: desk.do_send_notices(
        key, operator_id=who))  # fmt: skip


@requires(*HANDLE_ROLES)
async def lift_gag(request: Request, viewer: Viewer) -> Response:
    return await _act(request, viewer, lambda desk, key, who, f: desk.do_lift_gag(
        key, operator_id=who, reason=f.get("reason", "")))  # fmt: skip


@requires(*HANDLE_ROLES)
async def close(request: Request, viewer: Viewer) -> Response:
    return await _act(request, viewer, lambda desk, key, who, f: desk.do_close(
        key, operator_id=who, reason=f.get("reason", ""),
        keep_holds=f.get("keep_holds") == "yes"))  # fmt: skip


pages = Pages(
    routes=[
        Route(CASE + "/holds", place_holds, methods=["POST"]),
        Route(CASE + "/holds/release", release_holds, methods=["POST"]),
        Route(CASE + "/package", make_package, methods=["POST"]),
        Route(CASE + "/packages/{package_id}", download_package, methods=["GET"]),
        Route(CASE + "/documents/{document_id}", document, methods=["GET"]),
        Route(CASE + "/notify", notify, methods=["POST"]),
        Route(CASE + "/lift-gag", lift_gag, methods=["POST"]),
        Route(CASE + "/close", close, methods=["POST"]),
    ]
)
