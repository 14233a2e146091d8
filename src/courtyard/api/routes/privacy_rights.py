"""Your rights: ask for your account to be erased (30 days' grace, cancellable), complain
about how your data is handled, and read the operator's notices to you
(docs/user-rights.md). All of these work before you consent to a new policy version."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from courtyard.api.deps import CurrentIdentityAnyConsent, RuntimeDep
from courtyard.api.problems import AUTH_PROBLEMS, COMMON_PROBLEMS, problem_doc
from courtyard.domains.privacy.complaints import MAX_BODY, MAX_SUBJECT

router = APIRouter(
    prefix="/v1/privacy", tags=["privacy"], responses={**COMMON_PROBLEMS, **AUTH_PROBLEMS}
)
NOT_REQUESTED = problem_doc("erasure_not_found: you have not asked to be erased.")
ComplaintId = Annotated[str, Path(max_length=64)]


class ErasureBody(BaseModel):
    password: str = Field(max_length=1024, description="Your account password, asked again.")


class ComplaintBody(BaseModel):
    subject: str = Field(min_length=1, max_length=MAX_SUBJECT)
    body: str = Field(min_length=1, max_length=MAX_BODY)


@router.post(
    "/erasure",
    status_code=202,
    responses={
        403: problem_doc("wrong_password."),
        409: problem_doc(
            "wallet_not_empty (with `balances` and `in_flight`: withdraw or wait first), "
            "erasure_pending (a request is already pending or held)."
        ),
        429: problem_doc("login_throttled: too many wrong passwords (Retry-After)."),
    },
)
async def request_erasure(
    body: ErasureBody, identity: CurrentIdentityAnyConsent, runtime: RuntimeDep
) -> dict[str, Any]:
    """Ask for your account and data to be erased. It happens 30 days later (`due_at`); until
    then your account works as before and you can cancel. Needs your password again, and an
    empty wallet: no balance and no money on its way. Payment records are kept under a
    pseudonym, as the law requires; your messages' server copies are deleted (others keep
    what their devices received). A legal obligation to keep your data, or money arriving
    in your wallet, defers it (`status` `held`)."""
    return (await runtime.rights.erasures.do_request(identity, body.password)).to_wire()


@router.get("/erasure", responses={404: NOT_REQUESTED})
async def get_erasure(identity: CurrentIdentityAnyConsent, runtime: RuntimeDep) -> dict[str, Any]:
    """Your erasure request: `pending` (until `due_at`), `held` (deferred; `explanation`
    says why in general terms) or `cancelled`."""
    return (await runtime.rights.erasures.get_erasure(identity)).to_wire()


@router.delete(
    "/erasure",
    responses={
        404: NOT_REQUESTED,
        409: problem_doc("erasure_not_pending: it was already cancelled."),
    },
)
async def cancel_erasure(
    identity: CurrentIdentityAnyConsent, runtime: RuntimeDep
) -> dict[str, Any]:
    """Cancel your erasure request: your account stays."""
    return (await runtime.rights.erasures.do_cancel(identity)).to_wire()


@router.post(
    "/complaints",
    status_code=201,
    responses={409: problem_doc("too_many_open_complaints: 10 are waiting for an answer.")},
)
async def file_complaint(
    body: ComplaintBody, identity: CurrentIdentityAnyConsent, runtime: RuntimeDep
) -> dict[str, Any]:
    """Complain about how your data is handled (or ask for something to be corrected). The
    operator must answer by `due_at`: 15 days for users registered in China, 30 days (at
    most a calendar month) in the EU and elsewhere. The answer comes as a notice."""
    complaint = await runtime.rights.complaints.do_file(identity, body.subject, body.body)
    return complaint.to_wire()


@router.get("/complaints")
async def list_complaints(
    identity: CurrentIdentityAnyConsent, runtime: RuntimeDep
) -> list[dict[str, Any]]:
    """Your complaints, newest first, with their deadlines and answers."""
    return [c.to_wire() for c in await runtime.rights.complaints.list_mine(identity)]


@router.get(
    "/complaints/{complaint_id}",
    responses={404: problem_doc("complaint_not_found: no such complaint of yours.")},
)
async def get_complaint(
    complaint_id: ComplaintId, identity: CurrentIdentityAnyConsent, runtime: RuntimeDep
) -> dict[str, Any]:
    """One of your complaints."""
    return (await runtime.rights.complaints.access_mine(identity, complaint_id)).to_wire()


@router.get("/notices")
async def list_notices(
    identity: CurrentIdentityAnyConsent, runtime: RuntimeDep
) -> list[dict[str, Any]]:
    """The operator's notices to you, newest first: lawful requests for your data (at once,
    or when a non-disclosure order ends), answered complaints, new policy versions, your
    erasure."""
    return await runtime.rights.notices(identity)
