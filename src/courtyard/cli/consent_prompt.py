"""Showing a privacy policy in the terminal and asking for consent: used by ``courtyard
register`` and ``courtyard privacy consent`` (docs/privacy-consent.md, "SDK and CLI")."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from courtyard.client import Client
from courtyard.client.consent_models import Policy, PolicyDiff

AcceptPolicyOption = Annotated[
    bool, typer.Option("--accept-policy", help="Accept the privacy policy without asking.")
]
PurposeOption = Annotated[
    list[str] | None,
    typer.Option("--purpose", help="Grant an optional purpose the policy asks; repeat."),
]
NEEDS = {
    "all": "required to use the service",
    "wallet": "needed for the wallet",
    "none": "optional",
}


def show_policy_summary(out: Console, policy: Policy, *, read_hint: str) -> None:
    """The policy's title and version, where to read it, and the purposes it asks."""
    out.print(
        f"Privacy policy: {escape(policy.title)} ({policy.policy_region}, version "
        f"{policy.version})",
        soft_wrap=True,
    )
    out.print(f"Read it: {escape(read_hint)}", soft_wrap=True)
    if policy.purposes:
        out.print("It asks for these consents:")
    for name, spec in policy.purposes.items():
        out.print(
            f"  {name:<16} {NEEDS.get(spec.gates, spec.gates):<28} {escape(spec.label)}",
            soft_wrap=True,
        )


def show_diff(out: Console, diff: PolicyDiff) -> None:
    """A unified diff, added lines green and removed lines red."""
    if not diff.lines:
        out.print("(the text did not change)")
    for line in diff.lines:
        style = ""
        if line.startswith("+") and not line.startswith("+++"):
            style = "green"
        elif line.startswith("-") and not line.startswith("---"):
            style = "red"
        text = escape(line)
        out.print(f"[{style}]{text}[/{style}]" if style else text, soft_wrap=True)


def choose(
    out: Console,
    policy: Policy,
    *,
    accept: bool,
    granted: Iterable[str],
    keep: Iterable[str] = (),
) -> dict[str, bool]:
    """The purposes to send with a consent: the required ones (accepting the policy grants
    them), ``granted`` and ``keep``; asks first unless ``accept``. Exits 1 if the user says no
    or names a purpose the policy does not ask."""
    granted = list(granted)
    if unknown := [name for name in granted if name not in policy.purposes]:
        out.print(
            f"[red]error:[/red] the policy does not ask for {', '.join(map(escape, unknown))} "
            f"(it asks: {', '.join(policy.purposes) or 'nothing'})",
            soft_wrap=True,
        )
        raise typer.Exit(1)
    choices = policy.choices(*granted, *(name for name in keep if name in policy.purposes))
    given = [name for name, value in choices.items() if value]
    if not accept:
        question = "Do you accept this privacy policy"
        if given:
            question += f" and grant {', '.join(given)}"
        if not typer.confirm(question + "?", default=False):
            out.print("Nothing was done: the policy was not accepted.")
            raise typer.Exit(1)
    return choices


def ask_registration_consent(
    out: Console, server: str, region: str, *, accept: bool, granted: Iterable[str]
) -> tuple[Policy, dict[str, bool]]:
    """Fetch ``region``'s current policy, show it and ask; the policy and the purposes to
    register with (``ClientError`` if the server cannot say)."""

    async def fetch() -> Policy:
        async with Client(server) as client:
            return await client.privacy.policy_for(region)

    policy = asyncio.run(fetch())
    hint = f"courtyard privacy policy --country {region} --server {server}"
    show_policy_summary(out, policy, read_hint=hint)
    return policy, choose(out, policy, accept=accept, granted=granted)
