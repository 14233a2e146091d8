"""``courtyard admin policy publish REGION FILE | list | show REGION [--version N]``: the
privacy policies' versions (docs/privacy-consent.md, "Publishing"). Publishing needs the role
admin and is an audit-log entry; any operator may read. Run on a server host, against the
database; every node applies a new version within seconds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from courtyard.cli.admin_roles import roles_of
from courtyard.cli.operator_auth import OperatorOption, signed_in_operator
from courtyard.core.errors import CourtyardError

if TYPE_CHECKING:  # the domain loads only when a command runs, as in cli/server.py
    from courtyard.core.config import Settings
    from courtyard.domains.privacy.policy_store import PolicyStore

T = TypeVar("T")
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
policy_app = typer.Typer(
    help="Privacy policies: publish a new version, list versions, show one.", no_args_is_help=True
)

# As in cli/server.py, which registers this app (so this module cannot import from it).
DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: SQLite under the data dir).")
]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="Local state directory.")]
RegionArg = Annotated[str, typer.Argument(help="The policy region: CN, EU or default.")]


@policy_app.command("publish")
def publish(
    region: RegionArg,
    file: Annotated[
        Path,
        typer.Argument(
            help="The text: TOML front matter between +++ lines, then Markdown with "
            "{{ data_section }} and {{ consents_section }} (see the shipped files).",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Publish a new version of a region's policy: its users must consent to it again."""
    settings = _settings(db, data_dir)
    who = signed_in_operator(settings, operator, *roles_of("policy publish"))
    text = file.read_text(encoding="utf-8")
    actor = f"operator:{who.operator_id}"

    async def work(store: PolicyStore) -> tuple[int, str, bool]:
        name = _region(region)
        rendered = store.render_template(name, text)
        done = await store.do_publish(name, rendered, published_by=actor, actor=actor)
        return done.policy.version, done.policy.version_hash, done.created

    version, version_hash, created = _run(settings, work)
    if created:
        out.print(f"published {_region(region)} version {version} (sha256 {version_hash})")
    else:
        out.print(f"unchanged: {_region(region)} version {version} already has this text")


@policy_app.command("list")
def list_versions(
    region: Annotated[str | None, typer.Option("--region", help="Only this region.")] = None,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Every stored version, region by region, newest first: one line each."""
    settings = _settings(db, data_dir)
    signed_in_operator(settings, operator, *roles_of("policy list"))
    rows = _run(settings, lambda store: store.get_versions(_region(region) if region else None))
    if not rows:
        out.print("no policies published yet")
    for row in rows:  # one line each, so ids stay whole and greppable in a narrow terminal
        out.print(
            f"{row.policy_region} v{row.version}  {row.published_at.strftime('%Y-%m-%d %H:%M')}"
            f"  {escape(row.published_by)}  sha256 {row.version_hash[:16]}  {escape(row.title)}",
            soft_wrap=True,
        )


@policy_app.command("show")
def show(
    region: RegionArg,
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="Default: current.")
    ] = None,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """One version's details and its whole text."""
    settings = _settings(db, data_dir)
    signed_in_operator(settings, operator, *roles_of("policy show"))
    policy = _run(settings, lambda store: store.access_policy(_region(region), version))
    from courtyard.domains.privacy.policy_texts import ordered_purposes

    asked = ordered_purposes(policy.purposes)
    purposes = ", ".join(f"{name} ({spec['gates']})" for name, spec in asked.items())
    out.print(
        f"{policy.policy_region} version {policy.version}: {escape(policy.title)}\n"
        f"published {policy.published_at.isoformat()} by {escape(policy.published_by)}\n"
        f"sha256 {policy.version_hash}\n"
        f"purposes: {purposes or 'none'}",
        soft_wrap=True,
    )
    typer.echo("")
    typer.echo(policy.body)


def _settings(db: str | None, data_dir: Path | None) -> Settings:
    from courtyard.cli.server import settings_or_exit

    return settings_or_exit(database_url=db, data_dir=data_dir)


def _region(name: str) -> str:
    from courtyard.core.regions import POLICY_REGIONS

    for region in POLICY_REGIONS:
        if name.lower() == region.lower():
            return region
    err.print(f"[red]error:[/red] policy_not_found: no policy region {escape(name)!r} (CN, EU "
              "or default)")  # fmt: skip
    raise typer.Exit(1)


def _run(settings: Settings, action: Callable[[PolicyStore], Awaitable[T]]) -> T:
    """Migrate, then run ``action`` on this server's policies; a refusal becomes one line on
    stderr and exit status 1."""
    from courtyard.core.clock import SystemClock
    from courtyard.db import Database
    from courtyard.db.migrate import upgrade
    from courtyard.domains.privacy import render_data_section
    from courtyard.domains.privacy.policy_store import CurrentPolicies, PolicyStore

    upgrade(settings.database_url)

    async def work() -> T:
        database = Database(settings.database_url)
        try:
            store = PolicyStore(
                database, SystemClock(), CurrentPolicies(database),
                hosting_country=settings.hosting_country, data_section=render_data_section,
            )  # fmt: skip
            return await action(store)
        finally:
            await database.dispose()

    try:
        return asyncio.run(work())
    except CourtyardError as exc:
        err.print(f"[red]error:[/red] {exc.code}: {escape(exc.detail)}", soft_wrap=True)
        raise typer.Exit(1) from None
