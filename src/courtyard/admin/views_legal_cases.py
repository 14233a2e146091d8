"""The lawful-request desk's lists and intake: cases by status, the intake form (multipart,
with the served documents) and the rules in force (docs/legal-desk.md)."""

from __future__ import annotations

import datetime as dt

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.admin.guard import requires
from courtyard.admin.pages import (
    Link,
    Pages,
    Viewer,
    form_text,
    go,
    render,
    services,
    status_of,
)
from courtyard.core.errors import CourtyardError, InvalidInput
from courtyard.domains.legal import (
    CATEGORIES,
    GAG_KINDS,
    INTAKE_ROLES,
    MAX_DOCUMENT_BYTES,
    PROCESS_TYPES,
    STATUSES,
    VIEW_ROLES,
    Intake,
    Upload,
    label,
)
from courtyard.domains.legal.errors import DocumentTooLarge

CASES = "/legal/cases"
INTAKE = "/legal/intake"  # api/app.py lets this path take uploads (LEGAL_INTAKE_PATH)
RULES = "/legal/rules"
INTAKE_FIELDS = (
    "authority", "country", "process_type", "authority_reference", "targets", "date_from",
    "date_to", "gag", "gag_until",
)  # fmt: skip


def parse_day(text: str, what: str) -> dt.date | None:
    """A form's ``YYYY-MM-DD`` (None if empty); ``InvalidInput`` otherwise."""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{what} is a date: YYYY-MM-DD") from None


@requires(*VIEW_ROLES)
async def cases(request: Request, viewer: Viewer) -> Response:
    status = request.query_params.get("status") or None
    if status not in (None, *STATUSES):
        status = None
    found = await services(request).legal.list_cases(status)
    return render(
        request, viewer, "legal/cases.html", cases=found, status=status, statuses=STATUSES,
        may_intake=viewer.may(INTAKE_ROLES),
    )  # fmt: skip


async def _intake_page(
    request: Request,
    viewer: Viewer,
    status: int = 200,
    problem: str | None = None,
    form: FormData | None = None,
) -> Response:
    values = {name: form_text(form, name, 8000) if form else "" for name in INTAKE_FIELDS}
    values["gag"] = values["gag"] or "none"
    checked = [c for c in form.getlist("category") if isinstance(c, str)] if form else []
    return render(
        request, viewer, "legal/intake.html", status, process_types=PROCESS_TYPES,
        categories=CATEGORIES, gag_kinds=GAG_KINDS, values=values, checked=checked,
        problem=problem, label=label,
    )  # fmt: skip


@requires(*INTAKE_ROLES)
async def intake_form(request: Request, viewer: Viewer) -> Response:
    return await _intake_page(request, viewer)


async def _uploads(form: FormData) -> list[Upload]:
    uploads = []
    for item in form.getlist("documents"):
        if not isinstance(item, UploadFile) or not item.filename:
            continue  # the file field left empty
        content = await item.read(MAX_DOCUMENT_BYTES + 1)
        if len(content) > MAX_DOCUMENT_BYTES:
            raise DocumentTooLarge(f"{item.filename} is over 10 MB")
        uploads.append(Upload(item.filename, content))
    return uploads


def _intake_of(form: FormData) -> Intake:
    targets = form_text(form, "targets", 8000).replace(",", "\n").splitlines()
    return Intake(
        authority=form_text(form, "authority", 400),
        country=form_text(form, "country", 8),
        process_type=form_text(form, "process_type", 64),
        authority_reference=form_text(form, "authority_reference", 400),
        targets=tuple(targets),
        categories=tuple(c for c in form.getlist("category") if isinstance(c, str)),
        date_from=parse_day(form_text(form, "date_from", 32), "The first day"),
        date_to=parse_day(form_text(form, "date_to", 32), "The last day"),
        gag=form_text(form, "gag", 16) or "none",
        gag_until=parse_day(form_text(form, "gag_until", 32), "The order's end"),
    )


@requires(*INTAKE_ROLES)
async def intake(request: Request, viewer: Viewer) -> Response:
    form = await request.form()
    try:
        view = await services(request).legal.do_intake(
            _intake_of(form), await _uploads(form), operator_id=viewer.operator_id
        )
    except CourtyardError as exc:
        return await _intake_page(request, viewer, status_of(exc), exc.detail, form)
    finally:
        await form.close()  # the uploads' spooled files
    return go(request, f"{CASES}/{view.case_id}")


@requires(*VIEW_ROLES)
async def rules(request: Request, viewer: Viewer) -> Response:
    described = services(request).legal.rules.describe()
    return render(
        request, viewer, "legal/rules.html", rules=described, categories=CATEGORIES,
        process_types=PROCESS_TYPES, label=label,
    )  # fmt: skip


pages = Pages(
    routes=[
        Route(CASES, cases, methods=["GET"]),
        Route(INTAKE, intake_form, methods=["GET"]),
        Route(INTAKE, intake, methods=["POST"]),
        Route(RULES, rules, methods=["GET"]),
    ],
    links=[
        Link(
            "Legal",
            "Lawful requests",
            CASES,
            VIEW_ROLES,
            "Requests from authorities: review, approval, holds, packages, notices.",
        ),
        Link(
            "Legal",
            "New lawful request",
            INTAKE,
            INTAKE_ROLES,
            "Take in a request an authority served, with its documents.",
        ),
        Link(
            "Legal",
            "Desk rules",
            RULES,
            VIEW_ROLES,
            "Which process suffices for which data, and whose jurisdiction applies.",
        ),
    ],
)
