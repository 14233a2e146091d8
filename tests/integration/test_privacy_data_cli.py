"""``courtyard privacy export|access-log`` against the app served on a loopback port (the CLI
runs in a worker thread with its own event loop)."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

from typer.testing import CliRunner, Result

from courtyard.cli.main import app as cli
from tests.integration.test_wallet_cli import signed_in


async def courtyard(*args: str) -> Result:
    return await asyncio.to_thread(lambda: CliRunner().invoke(cli, ["privacy", *args]))


async def test_export_both_formats_then_read_the_access_log(
    live_server: str, tmp_path: Path
) -> None:
    profile = str(tmp_path / "alice")
    user_id = await signed_in(live_server, "alice", Path(profile))
    empty = await courtyard("access-log", "--profile", profile)
    assert empty.exit_code == 0, empty.output
    assert "No one has accessed your data." in empty.output

    saved = tmp_path / "mine.json"
    done = await courtyard("export", "--out", str(saved), "--profile", profile)
    assert done.exit_code == 0, done.output
    assert "Saved your data (json" in done.output
    export = json.loads(saved.read_text())
    assert export["manifest"]["user"]["user_id"] == user_id
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    page = tmp_path / "mine.html"
    html = await courtyard("export", "--format", "html", "--out", str(page), "--profile", profile)
    assert html.exit_code == 0, html.output
    assert page.read_text().startswith("<!doctype html>")

    log = await courtyard("access-log", "--json", "--profile", profile)
    assert log.exit_code == 0, log.output
    entries = json.loads(log.output)["entries"]
    assert [(e["action"], e["detail"]["format"]) for e in entries] == [
        ("privacy.export", "html"),
        ("privacy.export", "json"),
    ]
    table = await courtyard("access-log", "--limit", "1", "--profile", profile)
    assert "privacy.export" in table.output
    assert f"--before {entries[0]['seq']}" in table.output


async def test_refusals_end_with_one_error_line(live_server: str, tmp_path: Path) -> None:
    profile = str(tmp_path / "bob")
    await signed_in(live_server, "bob", Path(profile))
    taken = tmp_path / "taken.json"
    taken.write_text("keep me")
    exists = await courtyard("export", "--out", str(taken), "--profile", profile)
    assert (exists.exit_code, taken.read_text()) == (1, "keep me")
    assert "exists" in exists.output
    elsewhere = str(tmp_path / "x")
    bad = await courtyard("export", "--format", "xml", "--out", elsewhere, "--profile", profile)
    assert bad.exit_code == 1
    assert "--format must be json or html" in bad.output
    nobody = await courtyard("access-log", "--profile", str(tmp_path / "nobody"))
    assert nobody.exit_code != 0
