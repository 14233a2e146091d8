"""``courtyard register`` shows the policy and asks; ``courtyard privacy policy | consent |
purposes | grant | withdraw | records`` against the app on a loopback port (the CLI runs in a
worker thread with its own event loop)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from fastapi import FastAPI
from typer.testing import CliRunner, Result

from courtyard.cli.main import app as cli
from tests.conftest import PASSWORD
from tests.integration.consent_support import NEW_PARAGRAPH, publish_version


async def courtyard(*args: str, stdin: str = "") -> Result:
    def invoke() -> Result:
        env = {"COURTYARD_PASSWORD": PASSWORD, "COURTYARD_PROFILE": ""}
        return CliRunner().invoke(cli, list(args), env=env, input=stdin)

    return await asyncio.to_thread(invoke)


async def register(live_server: str, profile: Path, *extra: str, stdin: str = "") -> Result:
    return await courtyard(
        "register", "meili", "--region", "cn", "--server", live_server,
        "--profile", str(profile), *extra, stdin=stdin,
    )  # fmt: skip


async def test_register_shows_the_policy_and_refuses_without_acceptance(
    live_server: str, tmp_path: Path
) -> None:
    declined = await register(live_server, tmp_path / "p", stdin="n\n")
    assert declined.exit_code == 1
    assert "Personal Information Protection Policy" in declined.output
    assert "courtyard privacy policy --country CN" in declined.output
    for purpose in ("sensitive_data", "cross_border", "marketing"):
        assert purpose in declined.output
    assert "required to use the service" in declined.output
    assert "not accepted" in declined.output
    assert not (tmp_path / "p" / "session.json").exists()

    unknown = await register(live_server, tmp_path / "p", "--accept-policy", "--purpose", "x")
    assert unknown.exit_code == 1
    assert "does not ask for x" in unknown.output

    accepted = await register(live_server, tmp_path / "p", "--purpose", "sensitive_data",
                              stdin="y\n")  # fmt: skip
    assert accepted.exit_code == 0, accepted.output
    assert "grant cross_border, sensitive_data" in accepted.output
    assert (tmp_path / "p" / "session.json").exists()
    shown = await courtyard("privacy", "purposes", "--profile", str(tmp_path / "p"))
    lines = {line.split()[0]: line.split()[1] for line in shown.output.splitlines()}
    assert lines == {"sensitive_data": "granted", "cross_border": "granted", "marketing": "not"}


async def test_consent_shows_the_diff_and_purposes_can_be_given_and_withdrawn(
    app: FastAPI, live_server: str, tmp_path: Path
) -> None:
    profile = str(tmp_path / "p")
    assert (await register(live_server, tmp_path / "p", "--accept-policy")).exit_code == 0
    nothing = await courtyard("privacy", "consent", "--profile", profile)
    assert "nothing to do" in nothing.output

    await publish_version(app, "CN")
    blocked = await courtyard("whoami", "--profile", profile)
    assert blocked.exit_code == 0  # exempt
    events = await courtyard("events", "--profile", profile)
    assert events.exit_code == 1
    assert "consent_required" in events.output
    declined = await courtyard("privacy", "consent", "--profile", profile, stdin="n\n")
    assert declined.exit_code == 1
    assert f"+{NEW_PARAGRAPH}" in declined.output
    assert "from version 1, which you accepted, to version 2" in declined.output
    agreed = await courtyard("privacy", "consent", "--profile", profile, "--accept-policy")
    assert agreed.exit_code == 0, agreed.output
    assert "Consented to version 2 of the CN policy" in agreed.output
    assert (await courtyard("events", "--profile", profile)).exit_code == 0

    granted = await courtyard("privacy", "grant", "marketing", "--profile", profile)
    assert granted.exit_code == 0
    withdrawn = await courtyard("privacy", "withdraw", "sensitive_data", "--profile", profile)
    assert withdrawn.exit_code == 0
    wallet = await courtyard("wallet", "balance", "--profile", profile)
    assert wallet.exit_code == 1
    assert "consent_required" in wallet.output
    missing = await courtyard("privacy", "grant", "favourite_colour", "--profile", profile)
    assert (missing.exit_code, "purpose_not_found" in missing.output) == (1, True)

    records = await courtyard("privacy", "records", "--profile", profile)
    assert records.exit_code == 0
    assert "withdrew sensitive_data" in records.output
    assert "gave marketing" in records.output
    assert "CN v2" in records.output


async def test_policy_prints_a_countrys_a_regions_or_your_own_text(
    app: FastAPI, live_server: str, tmp_path: Path
) -> None:
    by_country = await courtyard("privacy", "policy", "--country", "DE", "--server", live_server)
    assert by_country.exit_code == 0, by_country.output
    assert "Courtyard Privacy Policy (EU and EEA): EU version 1" in by_country.output
    assert "GDPR" in by_country.output
    await publish_version(app, "default")
    older = await courtyard("privacy", "policy", "--region", "default", "--version", "1",
                            "--server", live_server)  # fmt: skip
    assert NEW_PARAGRAPH not in older.output
    assert "default version 1" in older.output
    assert (await register(live_server, tmp_path / "p", "--accept-policy")).exit_code == 0
    mine = await courtyard("privacy", "policy", "--profile", str(tmp_path / "p"))
    assert "CN version 1" in mine.output
    assert json.dumps("PIPL")[1:-1] in mine.output
