"""Building a case's view from its rows (in one read session), and fetching its stored
documents and packages."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.domains.accounts import get_operator_names
from courtyard.domains.legal.errors import DocumentNotFound, PackageNotFound
from courtyard.domains.legal.models import (
    LegalCase,
    LegalCaseDocument,
    LegalCaseEvent,
    LegalPackage,
)
from courtyard.domains.legal.preservation import case_holds
from courtyard.domains.legal.rules import Rules, TargetFacts
from courtyard.domains.legal.store import get_targets
from courtyard.domains.legal.views import (
    CaseSummary,
    CaseView,
    DocumentView,
    EventView,
    PackageView,
    StoredFile,
    TargetView,
)

ZIP = "application/zip"


async def build_view(session: AsyncSession, rules: Rules, case: LegalCase) -> CaseView:
    targets = await get_targets(session, case.case_id)
    evaluation = rules.evaluate(
        case.country,
        case.process_type,
        case.categories,
        [TargetFacts(t.target_no, t.identifier, t.user_region) for t in targets],
    )
    holds = await case_holds(session, case.case_id, targets)
    documents = list(
        await session.scalars(
            select(LegalCaseDocument)
            .where(LegalCaseDocument.case_id == case.case_id)
            .order_by(LegalCaseDocument.added_at, LegalCaseDocument.document_id)
        )
    )
    events = list(
        await session.scalars(
            select(LegalCaseEvent)
            .where(LegalCaseEvent.case_id == case.case_id)
            .order_by(LegalCaseEvent.event_no)
        )
    )
    packages = list(
        await session.execute(
            select(
                LegalPackage.package_id,
                LegalPackage.created_at,
                LegalPackage.created_by,
                LegalPackage.categories,
                LegalPackage.sha256,
                LegalPackage.key_id,
                LegalPackage.size,
            )
            .where(LegalPackage.case_id == case.case_id)
            .order_by(LegalPackage.created_at)
        )
    )
    operator_ids = {case.created_by, case.reviewer_id, case.approver_id}
    operator_ids |= {d.added_by for d in documents} | {p.created_by for p in packages}
    operator_ids |= {e.actor.removeprefix("operator:") for e in events}
    names = await get_operator_names(session, {i for i in operator_ids if i})
    return CaseView(
        summary=CaseSummary.of(case),
        authority_reference=case.authority_reference,
        date_from=case.date_from,
        date_to=case.date_to,
        categories=list(case.categories),
        gag_until=case.gag_until,
        created_by=names.get(case.created_by, case.created_by),
        reviewer=names.get(case.reviewer_id or "", case.reviewer_id),
        reviewer_id=case.reviewer_id,
        reviewed_at=case.reviewed_at,
        review_outcome=case.review_outcome,
        review_reasons=case.review_reasons,
        approved_categories=list(case.approved_categories) if case.approved_categories else None,
        approved_from=case.approved_from,
        approved_to=case.approved_to,
        approver=names.get(case.approver_id or "", case.approver_id),
        approved_at=case.approved_at,
        produced_at=case.produced_at,
        closed_at=case.closed_at,
        evaluation=evaluation,
        targets=[
            TargetView.of(t, evaluation.target_advice(t.target_no), holds.get(t.target_no))
            for t in targets
        ],
        documents=[DocumentView.of(d, names) for d in documents],
        events=[EventView.of(e, names) for e in events],
        packages=[
            PackageView(
                p.package_id,
                f"{case.reference}.zip",
                p.created_at,
                names.get(p.created_by, p.created_by),
                list(p.categories),
                p.sha256,
                p.key_id,
                p.size,
            )
            for p in packages
        ],
    )


async def get_document(session: AsyncSession, case_id: str, document_id: str) -> StoredFile:
    row = await session.get(LegalCaseDocument, (case_id, document_id))
    if row is None:
        raise DocumentNotFound()
    return StoredFile(row.filename, row.media_type, row.content)


async def get_package(session: AsyncSession, case: LegalCase, package_id: str) -> StoredFile:
    row = await session.get(LegalPackage, package_id)
    if row is None or row.case_id != case.case_id:
        raise PackageNotFound()
    return StoredFile(f"{case.reference}.zip", ZIP, row.archive)
