"""The lawful-request desk: every step on a case, each in one transaction with its timeline
row and audit entries, and the reads the console and the CLI show (docs/legal-desk.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from courtyard.core.clock import Clock
from courtyard.core.ids import new_id
from courtyard.db import Database, Tx
from courtyard.domains.jobs import Job, Outcome
from courtyard.domains.legal.errors import CaseNotFound
from courtyard.domains.legal.intake import (
    Intake,
    Upload,
    clean_text,
    required_reason,
    write_case,
)
from courtyard.domains.legal.models import LegalCase, LegalCaseTarget, LegalPackage
from courtyard.domains.legal.notices import lift_gag, on_decision, send_due, send_now
from courtyard.domains.legal.package import build, collect
from courtyard.domains.legal.preservation import place_case_holds, release_case_holds
from courtyard.domains.legal.review import Review, apply_approval, apply_review
from courtyard.domains.legal.rules import Rules, label
from courtyard.domains.legal.signing import PackageSigner
from courtyard.domains.legal.steps import operator_actor, record_audit, record_step
from courtyard.domains.legal.store import (
    STATUSES,
    find_case,
    get_targets,
    is_decided,
    require_status,
)
from courtyard.domains.legal.views import CaseSummary, CaseView, StoredFile
from courtyard.domains.legal.views_build import build_view, get_document, get_package
from courtyard.domains.media import BlobStore

T = TypeVar("T")
Step = Callable[[Tx, LegalCase, list[LegalCaseTarget]], Awaitable[T]]
INTAKE_ATTEMPTS = 5  # two intakes in one instant may pick the same reference; retry


class LegalDesk:
    """The desk's steps and reads; ``operator_id`` is who acts (the console's or the CLI's
    signed-in operator), roles having been checked by the caller."""

    def __init__(
        self, db: Database, clock: Clock, rules: Rules, signer: PackageSigner, blobs: BlobStore
    ) -> None:
        self.db = db
        self.clock = clock
        self.rules = rules
        self.signer = signer
        self.blobs = blobs

    # --- reads ---------------------------------------------------------------------------

    async def list_cases(self, status: str | None = None, limit: int = 200) -> list[CaseSummary]:
        """Cases newest first, of one status if given."""
        statement = (
            select(LegalCase)
            .order_by(LegalCase.received_at.desc(), LegalCase.reference.desc())
            .limit(limit)
        )
        if status:
            statement = statement.where(LegalCase.status == status)
        async with self.db.read() as session:
            return [CaseSummary.of(case) for case in await session.scalars(statement)]

    async def get_case(self, key: str) -> CaseView:
        """A case by id or reference, with its evaluation, documents and timeline."""
        async with self.db.read() as session:
            return await build_view(session, self.rules, await find_case(session, key))

    async def access_case(self, key: str, *, operator_id: str) -> CaseView:
        """``get_case`` for an operator, recorded in the audit log (``legal.case.view``)."""
        view = await self.get_case(key)
        await self._audit_only(view.case_id, "legal.case.view", operator_id)
        return view

    async def access_document(self, key: str, document_id: str, *, operator_id: str) -> StoredFile:
        """A served document's bytes, recorded (``legal.document.view``)."""
        async with self.db.read() as session:
            case = await find_case(session, key)
            stored = await get_document(session, case.case_id, document_id)
        await self._audit_only(case.case_id, "legal.document.view", operator_id, document_id)
        return stored

    async def access_package(self, key: str, package_id: str, *, operator_id: str) -> StoredFile:
        """A package's zip, for an approver to hand over; the download is a step."""

        async def download(tx: Tx, case: LegalCase, targets: list[LegalCaseTarget]) -> StoredFile:
            stored = await get_package(tx.session, case, package_id)
            await record_step(
                tx,
                self.clock,
                case,
                [t for t in targets if t.decision == "included"],
                actor=operator_actor(operator_id),
                kind="package_download",
                action="legal.package.download",
                detail={"package_id": package_id},
            )
            return stored

        return await self._step(key, download)

    def published_keys(self) -> list[dict[str, str]]:
        """``GET /v1/legal/keys``: the key that signs packages' manifests."""
        return self.signer.published()

    # --- steps ---------------------------------------------------------------------------

    async def do_intake(
        self, intake: Intake, uploads: list[Upload], *, operator_id: str
    ) -> CaseView:
        """Take in a request: the case, its targets and documents; a preservation request's
        holds at once."""
        for attempt in range(INTAKE_ATTEMPTS):
            try:
                async with self.db.transaction() as tx:
                    case_id = await self._intake(tx, intake, uploads, operator_id)
                return await self.get_case(case_id)
            except IntegrityError:
                if attempt == INTAKE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def _intake(self, tx: Tx, intake: Intake, uploads: list[Upload], operator_id: str) -> str:
        case, targets, documents = await write_case(
            tx, self.clock, intake, uploads, operator_id=operator_id
        )
        actor = operator_actor(operator_id)
        await record_step(
            tx,
            self.clock,
            case,
            targets,
            actor=actor,
            kind="intake",
            action="legal.case.intake",
            detail={
                "authority": case.authority,
                "country": case.country,
                "process_type": case.process_type,
                "categories": case.categories,
                "targets": [
                    {"target_no": t.target_no, "found": t.user_id is not None} for t in targets
                ],
                "documents": [{"filename": d.filename, "sha256": d.sha256} for d in documents],
                "gag": "none"
                if not case.gag
                else (case.gag_until.isoformat() if case.gag_until else "indefinite"),
            },
        )
        if case.process_type in self.rules.preservation_only:
            await place_case_holds(
                tx,
                self.clock,
                self.rules,
                case,
                targets,
                actor=actor,
                reason=f"{case.reference}: {label(case.process_type)} from {case.authority}",
            )
        return case.case_id

    async def do_review(self, key: str, review: Review, *, operator_id: str) -> CaseView:
        """Accept, narrow or reject the request (legal reviewers)."""

        async def step(tx: Tx, case: LegalCase, targets: list[LegalCaseTarget]) -> None:
            actor = operator_actor(operator_id)
            detail = apply_review(
                self.rules, case, targets, review, operator_id=operator_id, now=self.clock.now()
            )
            await record_step(
                tx,
                self.clock,
                case,
                targets,
                actor=actor,
                kind="review",
                action="legal.case.review",
                detail=detail,
                note=detail.get("reason") or None,
            )
            if case.status == "rejected":
                await on_decision(tx, self.clock, case, targets, actor=actor)

        return await self._step_view(key, step)

    async def do_approve(self, key: str, *, operator_id: str, note: str = "") -> CaseView:
        """Approve the reviewed scope (legal approvers; never the case's reviewer)."""

        async def step(tx: Tx, case: LegalCase, targets: list[LegalCaseTarget]) -> None:
            apply_approval(self.rules, case, targets, operator_id=operator_id, now=self.clock.now())
            text = clean_text(note, "The note", 500, required=False)
            await record_step(
                tx,
                self.clock,
                case,
                targets,
                actor=operator_actor(operator_id),
                kind="approval",
                action="legal.case.approve",
                detail={"categories": case.approved_categories, "note": text},
                note=text or None,
            )

        return await self._step_view(key, step)

    async def do_place_holds(self, key: str, *, operator_id: str, reason: str = "") -> CaseView:
        """Hold the data of the case's eligible targets that it does not hold yet."""

        async def step(tx: Tx, case: LegalCase, targets: list[LegalCaseTarget]) -> None:
            require_status(case, *(s for s in STATUSES if s != "closed"), step="a hold")
            why = clean_text(reason, "The reason", 500, required=False)
            await place_case_holds(
                tx,
                self.clock,
                self.rules,
                case,
                targets,
                actor=operator_actor(operator_id),
                reason=why or f"{case.reference}: preservation while the request is handled",
            )

        return await self._step_view(key, step)

    async def do_release_holds(self, key: str, *, operator_id: str, reason: str) -> CaseView:
        """Release every active hold of the case, saying why."""

        async def step(tx: Tx, case: LegalCase, targets: list[LegalCaseTarget]) -> None:
            why = required_reason(reason, "Say why the holds are released")
            await release_case_holds(
                tx, self.clock, case, targets, actor=operator_actor(operator_id), reason=why
            )

        return await self._step_view(key, step)

    async def do_package(self, key: str, *, operator_id: str) -> CaseView:
        """Make the signed package of an approved case and mark it produced (approvers)."""
        async with self.db.read() as session:
            case = await find_case(session, key)
            require_status(case, "approved", step="a package")
            files = await collect(
                session, self.blobs, case, await get_targets(session, case.case_id)
            )

        async def step(tx: Tx, locked: LegalCase, targets: list[LegalCaseTarget]) -> None:
            require_status(locked, "approved", step="a package")  # not made meanwhile
            now, package_id = self.clock.now(), new_id()
            built = build(
                locked, targets, files, self.signer, package_id=package_id, created_at=now
            )
            tx.session.add(
                LegalPackage(
                    package_id=package_id,
                    case_id=locked.case_id,
                    created_at=now,
                    created_by=operator_id,
                    categories=list(locked.approved_categories or []),
                    sha256=built.sha256,
                    key_id=self.signer.key_id,
                    signature=built.signature,
                    size=len(built.archive),
                    archive=built.archive,
                )
            )
            locked.produced_at, locked.status = now, "produced"
            actor = operator_actor(operator_id)
            await record_step(
                tx,
                self.clock,
                locked,
                [t for t in targets if t.decision == "included"],
                actor=actor,
                kind="package",
                action="legal.package.create",
                detail={
                    "package_id": package_id,
                    "sha256": built.sha256,
                    "categories": locked.approved_categories,
                    "files": sorted(files),
                },
            )
            await on_decision(tx, self.clock, locked, targets, actor=actor)

        return await self._step_view(case.case_id, step)

    async def do_send_notices(self, key: str, *, operator_id: str) -> CaseView:
        """Send the notices that are due now (``notice_not_due`` if none can go yet)."""

        async def step(tx: Tx, case: LegalCase, targets: list[LegalCaseTarget]) -> None:
            await send_now(tx, self.clock, case, targets, actor=operator_actor(operator_id))

        return await self._step_view(key, step)

    async def do_lift_gag(self, key: str, *, operator_id: str, reason: str) -> CaseView:
        """End the non-disclosure order now, saying why; decided cases notify at once."""

        async def step(tx: Tx, case: LegalCase, targets: list[LegalCaseTarget]) -> None:
            why = required_reason(reason, "Say why the non-disclosure order is lifted")
            await lift_gag(
                tx, self.clock, case, targets, actor=operator_actor(operator_id), reason=why
            )

        return await self._step_view(key, step)

    async def do_close(
        self, key: str, *, operator_id: str, reason: str = "", keep_holds: bool = False
    ) -> CaseView:
        """Close the case; its holds are released unless ``keep_holds``."""

        async def step(tx: Tx, case: LegalCase, targets: list[LegalCaseTarget]) -> None:
            require_status(case, *(s for s in STATUSES if s != "closed"), step="closing")
            why = clean_text(reason, "The reason", 500, required=False)
            actor = operator_actor(operator_id)
            if not keep_holds:
                await release_case_holds(
                    tx,
                    self.clock,
                    case,
                    targets,
                    actor=actor,
                    reason=f"case closed: {why or 'closed'}",
                )
            decided = is_decided(case)
            case.status, case.closed_at = "closed", self.clock.now()
            await record_step(
                tx,
                self.clock,
                case,
                targets,
                actor=actor,
                kind="closed",
                action="legal.case.close",
                detail={"reason": why, "keep_holds": keep_holds},
                note=why or None,
            )
            if not decided:
                await on_decision(tx, self.clock, case, targets, actor=actor)

        return await self._step_view(key, step)

    async def run_notice_job(self, tx: Tx, job: Job) -> Outcome:
        """The due job ``legal.notice:<case_id>`` at the order's end: tell the waiting
        targets of a decided case (an undecided one tells them at its decision)."""
        try:
            case = await find_case(tx.session, job.ref_id, lock=True)
        except CaseNotFound:  # a case that is gone has no one to tell
            return "skipped"
        if not is_decided(case):
            return "skipped"
        told = await send_due(
            tx, self.clock, case, await get_targets(tx.session, case.case_id), actor="system"
        )
        return "applied" if told else "skipped"

    # --- helpers -------------------------------------------------------------------------

    async def _step(self, key: str, step: Step[T]) -> T:
        async with self.db.transaction() as tx:
            case = await find_case(tx.session, key, lock=True)
            return await step(tx, case, await get_targets(tx.session, case.case_id))

    async def _step_view(self, key: str, step: Step[None]) -> CaseView:
        await self._step(key, step)
        return await self.get_case(key)

    async def _audit_only(
        self, case_id: str, action: str, operator_id: str, document_id: str | None = None
    ) -> None:
        async with self.db.transaction() as tx:
            case = await find_case(tx.session, case_id)
            detail = {"document_id": document_id} if document_id else None
            await record_audit(
                tx,
                self.clock,
                case,
                [],
                actor=operator_actor(operator_id),
                action=action,
                detail=detail,
            )
