"""Publishing policy versions: at start (once, by the system, also with two nodes at once),
an operator's own text through ``courtyard admin policy`` (role admin, an audit entry) that
survives restarts, and the data section that always equals the data map's
(docs/privacy-consent.md, "Publishing")."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from typer.testing import CliRunner

from courtyard.api.runtime import Runtime
from courtyard.cli.main import app as cli
from courtyard.core.clock import FrozenClock
from courtyard.core.config import Settings
from courtyard.core.regions import POLICY_REGIONS
from courtyard.db import Database
from courtyard.domains.audit import AuditEntry
from courtyard.domains.privacy import render_data_section
from courtyard.domains.privacy.models import PrivacyPolicy
from courtyard.domains.privacy.policy_store import CurrentPolicies, PolicyStore
from courtyard.domains.privacy.policy_texts import DATA_SECTION, generated_section
from tests.integration.consent_support import NEW_PARAGRAPH, changed_text
from tests.integration.operator_cli_support import add_operator, operator_env

runner = CliRunner()


async def versions(db: Database) -> list[tuple[str, int, str]]:
    async with db.read() as session:
        rows = await session.execute(
            select(
                PrivacyPolicy.policy_region, PrivacyPolicy.version, PrivacyPolicy.published_by
            ).order_by(PrivacyPolicy.policy_region, PrivacyPolicy.version)
        )
        return [(r.policy_region, r.version, r.published_by) for r in rows]


async def publications(db: Database) -> list[tuple[str, str]]:
    async with db.read() as session:
        rows = await session.execute(
            select(AuditEntry.actor, AuditEntry.target)
            .where(AuditEntry.action == "privacy.policy.publish")
            .order_by(AuditEntry.seq)
        )
        return [(r.actor, r.target) for r in rows]


def store(runtime: Runtime, data_section: object = render_data_section) -> PolicyStore:
    """Another node's (or a later start's) view of the policies, with its own data section."""
    return PolicyStore(
        runtime.db, runtime.clock, CurrentPolicies(runtime.db), hosting_country="",
        data_section=data_section,  # type: ignore[arg-type]
    )  # fmt: skip


async def test_each_region_is_published_once_at_start_by_the_system_with_an_audit_entry(
    app: FastAPI,
) -> None:
    runtime: Runtime = app.state.runtime
    assert await versions(runtime.db) == [(r, 1, "system") for r in sorted(POLICY_REGIONS)]
    again = await store(runtime).do_publish_at_start()  # a restart, or another node
    assert [p.created for p in again] == [False, False, False]
    assert await versions(runtime.db) == [(r, 1, "system") for r in sorted(POLICY_REGIONS)]
    assert sorted(await publications(runtime.db)) == sorted(
        ("system", f"policy:{region}/1") for region in POLICY_REGIONS
    )


@pytest.mark.parametrize("region", POLICY_REGIONS)
async def test_the_stored_data_section_is_what_the_data_map_renders(
    app: FastAPI, region: str
) -> None:
    runtime: Runtime = app.state.runtime
    policy = await runtime.consent.access_policy(region)
    assert generated_section(policy.body, DATA_SECTION) == render_data_section(region).strip("\n")


async def test_a_changed_data_map_is_published_at_the_next_start(app: FastAPI) -> None:
    runtime: Runtime = app.state.runtime
    changed = store(runtime, lambda region: f"## What we store and why\n\nNew rows in {region}.")
    results = await changed.do_publish_at_start()
    assert [p.policy.version for p in results] == [2, 2, 2]
    body = (await runtime.consent.access_policy("EU")).body
    assert generated_section(body, DATA_SECTION) == "## What we store and why\n\nNew rows in EU."


async def test_two_nodes_starting_at_once_publish_each_text_once(app: FastAPI) -> None:
    runtime: Runtime = app.state.runtime
    rendered = store(runtime).render_template("EU", changed_text("EU"))
    first, second = store(runtime), store(runtime)
    outcomes = await asyncio.gather(
        first.do_publish("EU", rendered, published_by="system", actor="system"),
        second.do_publish("EU", rendered, published_by="system", actor="system"),
    )
    assert sorted(o.created for o in outcomes) == [False, True]
    assert {o.policy.version for o in outcomes} == {2}
    assert [v for v in await versions(runtime.db) if v[0] == "EU"] == [
        ("EU", 1, "system"), ("EU", 2, "system"),
    ]  # fmt: skip


async def test_an_operators_text_survives_restarts_with_its_data_section_kept_fresh(
    app: FastAPI,
) -> None:
    runtime: Runtime = app.state.runtime
    policies = runtime.consent.policies
    mine = policies.render_template("default", changed_text("default"))
    await policies.do_publish("default", mine, published_by="operator:o1", actor="operator:o1")
    assert not any(p.created for p in await store(runtime).do_publish_at_start())

    later = store(runtime, lambda region: "## What we store and why\n\nA new table.")
    await later.do_publish_at_start()
    await later.do_publish_at_start()  # and once more: nothing new
    newest = await runtime.consent.access_policy("default")
    assert newest.version == 3
    assert newest.published_by == "system:operator:o1"
    assert NEW_PARAGRAPH in newest.body  # the operator's text, not the shipped one
    assert generated_section(newest.body, DATA_SECTION) == (
        "## What we store and why\n\nA new table."
    )


@pytest.fixture
def where(settings: Settings) -> dict[str, str]:
    return {"COURTYARD_DATABASE_URL": settings.database_url,
            "COURTYARD_DATA_DIR": str(settings.data_dir)}  # fmt: skip


async def test_an_admin_publishes_a_text_from_the_command_line_and_any_operator_reads_it(
    app: FastAPI, settings: Settings, where: dict[str, str], tmp_path: Path, clock: FrozenClock
) -> None:
    runtime: Runtime = app.state.runtime
    admin_id = await add_operator(settings.database_url, "ada", "admin")
    await add_operator(settings.database_url, "sam", "support")
    text = tmp_path / "eu.md"
    text.write_text(changed_text("EU"))

    def admin(*args: str, who: str = "ada") -> tuple[int, str]:
        result = runner.invoke(cli, ["admin", "policy", *args], env={**where, **operator_env(who)})
        return result.exit_code, result.output

    refused = await asyncio.to_thread(admin, "publish", "EU", str(text), who="sam")
    assert refused[0] == 3
    published = await asyncio.to_thread(admin, "publish", "eu", str(text))
    assert published[0] == 0, published[1]
    assert "published EU version 2" in published[1]
    unchanged = await asyncio.to_thread(admin, "publish", "EU", str(text))
    assert "unchanged: EU version 2" in unchanged[1]
    assert (await publications(runtime.db))[-1] == (f"operator:{admin_id}", "policy:EU/2")
    assert ("EU", 2, f"operator:{admin_id}") in await versions(runtime.db)

    listed = await asyncio.to_thread(admin, "list", "--region", "EU", who="sam")
    assert listed[0] == 0, listed[1]
    assert f"operator:{admin_id}" in listed[1]
    shown = await asyncio.to_thread(admin, "show", "EU", "--version", "1", who="sam")
    assert shown[0] == 0, shown[1]
    assert "EU version 1" in shown[1]
    assert NEW_PARAGRAPH not in shown[1]
    assert NEW_PARAGRAPH in (await asyncio.to_thread(admin, "show", "EU"))[1]

    broken = tmp_path / "broken.md"
    broken.write_text("no front matter at all\n")
    failed = await asyncio.to_thread(admin, "publish", "EU", str(broken))
    assert failed[0] == 1
    assert "invalid_policy" in failed[1]
    unknown = await asyncio.to_thread(admin, "publish", "mars", str(text))
    assert unknown[0] == 1
    assert "policy_not_found" in unknown[1]
