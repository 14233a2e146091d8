"""``courtyard privacy policy | consent | purposes | grant | withdraw | records``: your region's
privacy policy and your consents (merged into ``privacy_app`` by cli/privacy.py;
docs/privacy-consent.md, "SDK and CLI")."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from courtyard.cli.client_verbs import (
    ProfileOption,
    ServerOption,
    Where,
    call,
    locate,
    out,
    run,
    when,
)
from courtyard.cli.consent_prompt import (
    NEEDS,
    AcceptPolicyOption,
    PurposeOption,
    choose,
    show_diff,
    show_policy_summary,
)
from courtyard.client import Client
from courtyard.client.consent_models import ConsentState, Policy, PolicyDiff

consent_app = typer.Typer()
PurposeArg = Annotated[str, typer.Argument(help="The purpose (see `courtyard privacy purposes`).")]


@consent_app.command("policy")
def policy(
    country: Annotated[
        str | None, typer.Option("--country", help="The policy for registering with this country.")
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="A policy region: CN, EU or default.")
    ] = None,
    version: Annotated[int | None, typer.Option("--version", min=1, help="An older one.")] = None,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Print a privacy policy: yours (signed in), a country's or a region's."""
    where = locate(profile, server)

    async def fetch() -> Policy:
        async with where.client() as client:
            if country:
                return await client.privacy.policy_for(country)
            if region:
                return await client.privacy.policy(region, version)
            where.signed_in()
            state = await client.privacy.consent_state()
            return await client.privacy.policy(state.policy_region, version)

    shown = run(fetch())
    out.print(
        f"{escape(shown.title)}: {shown.policy_region} version {shown.version}, published "
        f"{when(shown.published_at)}, sha256 {shown.version_hash}",
        soft_wrap=True,
    )
    typer.echo("")
    typer.echo(shown.body)


@consent_app.command("consent")
def consent(
    accept_policy: AcceptPolicyOption = False,
    purpose: PurposeOption = None,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Consent to your region's current policy: shows what changed since the version you
    accepted, and asks."""
    where = locate(profile, server)
    where.signed_in()
    state, current, diff = call(where, _consent_context)
    if not state.needs_reconsent and state.service_usable and not purpose:
        out.print(f"You have consented to version {state.current_version}; nothing to do.")
        return
    if diff is not None:
        out.print(
            f"The {state.policy_region} policy changed from version {diff.from_version}, which "
            f"you accepted, to version {diff.to_version}:"
        )
        show_diff(out, diff)
    hint = f"courtyard privacy policy --region {state.policy_region}"
    show_policy_summary(out, current, read_hint=hint)
    granted = [p.purpose for p in state.purposes if p.granted]
    purposes = choose(out, current, accept=accept_policy, granted=purpose or (), keep=granted)
    done = call(where, lambda client: client.privacy.consent(current.version_hash, purposes))
    out.print(f"Consented to version {done.current_version} of the {done.policy_region} policy.")
    _print_purposes(done)


@consent_app.command("purposes")
def purposes(profile: ProfileOption = None, server: ServerOption = None) -> None:
    """Show each purpose your policy asks, and whether you granted it."""
    where = _signed_in(profile, server)
    state = call(where, lambda client: client.privacy.consent_state())
    _print_purposes(state)


@consent_app.command("grant")
def grant(purpose: PurposeArg, profile: ProfileOption = None, server: ServerOption = None) -> None:
    """Give a purpose your policy asks."""
    where = _signed_in(profile, server)
    _print_purposes(call(where, lambda client: client.privacy.set_purpose(purpose, True)))


@consent_app.command("withdraw")
def withdraw(
    purpose: PurposeArg, profile: ProfileOption = None, server: ServerOption = None
) -> None:
    """Withdraw a purpose; what needs it stops until you grant it again."""
    where = _signed_in(profile, server)
    _print_purposes(call(where, lambda client: client.privacy.set_purpose(purpose, False)))


@consent_app.command("records")
def records(profile: ProfileOption = None, server: ServerOption = None) -> None:
    """Every consent you gave or withdrew, newest first, as the server keeps it: one line
    each."""
    where = _signed_in(profile, server)
    rows = call(where, lambda client: client.privacy.consent_records())
    if not rows:
        out.print("no consent records")
    for row in rows:  # one line each: greppable, and whole in a narrow terminal
        what = "accepted the policy" if row.kind == "policy" else (
            f"{'gave' if row.granted else 'withdrew'} {row.purpose}"
        )  # fmt: skip
        out.print(
            f"{when(row.at)}  {escape(what)}  {row.policy_region} v{row.policy_version}  "
            f"sha256 {row.version_hash[:16]}  device {row.device_id or '-'}",
            soft_wrap=True,
        )


async def _consent_context(client: Client) -> tuple[ConsentState, Policy, PolicyDiff | None]:
    state = await client.privacy.consent_state()
    current = await client.privacy.policy(state.policy_region)
    diff = None
    if state.consented_version and state.consented_version != state.current_version:
        diff = await client.privacy.diff(
            state.policy_region, state.consented_version, state.current_version
        )
    return state, current, diff


def _signed_in(profile: ProfileOption, server: ServerOption) -> Where:
    where = locate(profile, server)
    where.signed_in()
    return where


def _print_purposes(state: ConsentState) -> None:
    if state.needs_reconsent:
        out.print(
            f"Version {state.current_version} of your policy needs your consent: run "
            "`courtyard privacy consent`."
        )
    if not state.purposes:
        out.print("Your policy asks for no purposes.")
    for p in state.purposes:
        out.print(
            f"{p.purpose:<16} {'granted' if p.granted else 'not granted':<12} "
            f"{NEEDS.get(p.gates, p.gates):<28} {escape(p.label)}",
            soft_wrap=True,
        )
