"""The privacy center's index and consent pages: your region's policy, each purpose with a
toggle, consenting to a new version (with what changed), and the policy shown at sign-up
(docs/privacy-consent.md, "Device app")."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.app.consent_watch import consent_url, next_path, safe_next
from courtyard.app.pages import go, problem, render, state
from courtyard.app.views_auth import explain
from courtyard.client import ApiError, Client, ClientError, ConsentRequired
from courtyard.client.consent_models import ConsentState, Policy

# The other pages of the privacy center (views_privacy_data.py and the rights pages).
CENTER_LINKS = [
    ("/privacy/data", "Your data", "Download everything the server holds about you."),
    ("/privacy/access-log", "Access log", "Who looked at your data, and why."),
    ("/privacy/encryption", "Encryption", "How each of your conversations is encrypted."),
    ("/privacy/erasure", "Delete your account", "Erasure, with 30 days to change your mind."),
    ("/privacy/complaints", "Complaints", "Complain about how your data is handled."),
    ("/privacy/notices", "Notices", "What the operator had to tell you."),
]
NEEDS = {
    "all": "required to use Courtyard",
    "wallet": "needed for the wallet",
    "none": "optional",
}


@dataclass(frozen=True)
class DiffLine:
    """One line of a policy diff as the page shows it: ``add``, ``del``, ``hunk`` or ``same``."""

    kind: str
    text: str


async def index(request: Request) -> Response:
    """The privacy center: your policy, your consents, and the way to everything else."""
    device = state(request)
    if not device.unlocked:
        return go(request, "/welcome")
    try:
        async with device.account_client() as client:
            consent = await client.privacy.consent_state()
            policy = await client.privacy.policy(consent.policy_region)
    except ClientError as exc:
        return problem(request, explain(exc))
    return render(
        request, "privacy/index.html", current="privacy", current_section="privacy",
        consent=consent, policy=policy, links=CENTER_LINKS, needs=NEEDS,
    )  # fmt: skip


async def set_purpose(request: Request) -> Response:
    """Give or withdraw one purpose (as easy one way as the other)."""
    purpose = request.path_params["purpose"]
    granted = str((await request.form()).get("granted", "")) == "1"
    try:
        async with state(request).account_client() as client:
            await client.privacy.set_purpose(purpose, granted)
    except ClientError as exc:
        return problem(request, explain(exc))
    return go(request, "/privacy")


async def consent_records(request: Request) -> Response:
    """Every consent you gave or withdrew, as the server keeps it for evidence."""
    device = state(request)
    if not device.unlocked:
        return go(request, "/welcome")
    try:
        async with device.account_client() as client:
            records = await client.privacy.consent_records()
    except ClientError as exc:
        return problem(request, explain(exc))
    return render(
        request, "privacy/records.html", current="privacy", current_section="privacy",
        records=records,
    )  # fmt: skip


async def consent_page(request: Request) -> Response:
    """What changed in your region's policy since you consented, the whole text, and the
    purposes; accepting records your consent and takes you back."""
    device = state(request)
    if device.stored() is None:
        return go(request, "/welcome")
    wanted = request.query_params.get("purpose")
    try:
        async with device.account_client() as client:
            consent = await client.privacy.consent_state()
            policy = await client.privacy.policy(consent.policy_region)
            diff = await _diff(client, consent)
    except ClientError as exc:
        return problem(request, explain(exc))
    return render(
        request, "privacy/consent.html", consent=consent, policy=policy, diff=diff,
        wanted=wanted, needs=NEEDS, next=safe_next(request.query_params.get("next")),
        locked=not device.unlocked,
    )  # fmt: skip


async def give_consent(request: Request) -> Response:
    device = state(request)
    form = await request.form()
    if str(form.get("accept_policy", "")) != "on":
        return problem(request, "Tick “I accept” to consent to the policy.")
    version_hash = str(form.get("version_hash", ""))
    checked = {str(value) for value in form.getlist("purpose")}
    try:
        async with device.account_client() as client:
            consent = await client.privacy.consent_state()
            purposes = {p.purpose: p.purpose in checked for p in consent.purposes}
            await client.privacy.consent(version_hash, purposes)
    except ApiError as exc:
        if exc.code == "policy_outdated":
            return problem(request, "The policy changed again meanwhile: reload this page.")
        return problem(request, explain(exc))
    except ClientError as exc:
        return problem(request, explain(exc))
    device.consent.given()
    await device.changed()
    # Consent before the device's keys were opened (signing in): unlock next.
    return go(request, safe_next(str(form.get("next", ""))) if device.unlocked else "/welcome")


async def policy_text(request: Request) -> Response:
    """A policy's whole text: ``?country=XX`` (the one for registering there) or
    ``?region=CN&version=N``."""
    params = request.query_params
    device = state(request)
    try:
        async with device.public_client() as client:
            if params.get("country"):
                policy = await client.privacy.policy_for(params["country"])
            else:
                version = params.get("version", "")
                policy = await client.privacy.policy(
                    params.get("region", "default"), int(version) if version.isdigit() else None
                )
    except ClientError as exc:
        return problem(request, explain(exc))
    return render(request, "privacy/policy.html", policy=policy, needs=NEEDS)


async def signup_policy(request: Request) -> Response:
    """The sign-up form's policy box for the region typed: title, link, purposes."""
    region = request.query_params.get("region", "").strip().upper()
    policy: Policy | None = None
    if len(region) == 2 and region.isalpha():
        try:
            async with state(request).public_client() as client:
                policy = await client.privacy.policy_for(region)
        except ClientError:
            policy = None
    return render(request, "privacy/_signup_policy.html", policy=policy, region=region, needs=NEEDS)


async def consent_required(request: Request, exc: Exception) -> Response:
    """A call the page made was refused for want of consent: go and ask for it."""
    assert isinstance(exc, ConsentRequired)
    state(request).consent.note(exc)
    headers = {k.lower(): v for k, v in request.headers.items()}
    return go(request, consent_url(next_path(request.scope, headers), exc.purpose))


def diff_lines(lines: list[str]) -> list[DiffLine]:
    """Classify unified-diff lines for display (the file header lines are dropped)."""
    shown = []
    for line in lines:
        if line.startswith(("+++", "---")):
            continue
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        shown.append(DiffLine(kind, line[1:] if kind in ("add", "del", "same") else line))
    return shown


async def _diff(client: Client, consent: ConsentState) -> list[DiffLine] | None:
    if not consent.consented_version or consent.consented_version == consent.current_version:
        return None
    changed = await client.privacy.diff(
        consent.policy_region, consent.consented_version, consent.current_version
    )
    return diff_lines(changed.lines)


routes = [
    Route("/privacy", index),
    Route("/privacy/purposes/{purpose}", set_purpose, methods=["POST"]),
    Route("/privacy/consent-records", consent_records),
    Route("/privacy/consent", consent_page),
    Route("/privacy/consent", give_consent, methods=["POST"]),
    Route("/privacy/policy", policy_text),
    Route("/signup/policy", signup_policy),
]
