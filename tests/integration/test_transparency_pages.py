"""The transparency report's other faces (docs/transparency.md): the public HTML page (its
counts, its charts, no script, a strict CSP), the SDK, ``courtyard transparency`` and the
console page."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner, Result

from courtyard.cli.main import app as cli
from courtyard.client import ApiError, Client
from courtyard.client.transparency import TransparencyReports, fetch_report
from courtyard.core.clock import FrozenClock
from tests.integration.admin_support import OperatorFactory, operator_factory
from tests.integration.test_transparency import COUNTS, make_desk, report

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
ROW = re.compile(r'<tr data-country="([A-Z]{2})" data-process-type="([a-z_]+)">(.*?)</tr>', re.S)
CELL = re.compile(r'data-count="([a-z_]+)">(\d+)<')
STYLE = re.compile(r"<style>(.*?)</style>", re.S)


@pytest.fixture
async def desk(app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock) -> None:
    await make_desk(app, client, clock)


@pytest.fixture
async def operators(app: FastAPI) -> AsyncIterator[OperatorFactory]:
    async for make in operator_factory(app):
        yield make


def table_of(html: str) -> dict[tuple[str, str], dict[str, int]]:
    """The report table of a page: (country, process type) → count name → number."""
    return {
        (country, process): {name: int(n) for name, n in CELL.findall(cells)}
        for country, process, cells in ROW.findall(html)
    }


@pytest.mark.usefixtures("desk")
async def test_the_page_shows_the_reports_counts_with_charts_and_no_script(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/transparency/2026-H1")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    body = await report(client, "2026-H1")
    expected = {(r["country"], r["process_type"]): {n: r[n] for n in COUNTS} for r in body["rows"]}
    assert table_of(page.text) == expected
    totals = re.search(r'<tr id="totals">(.*?)</tr>', page.text, re.S)
    assert totals is not None
    assert {name: int(n) for name, n in CELL.findall(totals.group(1))} == body["totals"]
    assert page.text.count("<svg") == 2
    assert "Requests received by country" in page.text
    assert "Outcomes by process type" in page.text
    assert "Search warrant" in page.text
    assert 'id="provisional"' not in page.text
    assert "<script" not in page.text.lower()
    assert not re.search(r"\son[a-z]+\s*=", page.text)  # no inline event handlers


@pytest.mark.usefixtures("desk")
async def test_the_page_has_a_strict_csp_that_admits_only_its_own_stylesheet(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/transparency/2026-H2")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "unsafe" not in csp
    assert "script-src" not in csp  # so default-src 'none' forbids every script
    style = STYLE.search(page.text)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert 'id="provisional"' in page.text  # H2 has not ended


@pytest.mark.usefixtures("desk")
async def test_the_front_page_shows_the_newest_ended_half_year(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/transparency")
    assert page.status_code == 200
    assert '<h2 id="period">2026-H1' in page.text
    assert table_of(page.text) == table_of((await client.get("/transparency/2026-H1")).text)
    assert 'href="/transparency/2026-Q3"' in page.text


@pytest.mark.usefixtures("desk")
@pytest.mark.parametrize(("period", "status"), [("2026-H9", 400), ("nope", 400), ("2031-Q1", 404)])
async def test_a_bad_period_is_an_html_page_not_an_error(
    client: httpx.AsyncClient, period: str, status: int
) -> None:
    page = await client.get(f"/transparency/{period}")
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert 'id="problem"' in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


@pytest.mark.usefixtures("desk")
async def test_the_sdk_reads_periods_and_a_report_without_signing_in(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with Client("http://courtyard.test", transport=transport) as client:
        reports = TransparencyReports(client)
        periods = await reports.periods()
        assert [p.period for p in periods][:3] == ["2026-H2", "2026-Q3", "2026-H1"]
        assert periods[0].provisional
        assert not periods[2].provisional
        h1 = await reports.report("2026-H1")
        with pytest.raises(ApiError) as refused:
            await reports.report("2026-H3")
    assert refused.value.code == "invalid_period"
    assert h1.period.period == "2026-H1"
    assert h1.totals["received"] == 7
    rows = {(r.country, r.process_type): r.counts for r in h1.rows}
    assert rows[("DE", "search_warrant")]["produced_content"] == 1
    again = await fetch_report("http://courtyard.test", "2026-H1", transport=transport)
    assert again.rows == h1.rows


async def courtyard(*args: str) -> Result:
    def invoke() -> Result:
        return CliRunner().invoke(cli, ["transparency", *args], env={"COURTYARD_SERVER": ""})

    return await asyncio.to_thread(invoke)


@pytest.mark.usefixtures("desk")
async def test_the_cli_lists_periods_and_prints_a_report(live_server: str) -> None:
    listed = await courtyard("--server", live_server)
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].split() == ["2026-H2", "2026-07-01", "to", "2026-12-31", "provisional"]
    assert lines[2].split() == ["2026-H1", "2026-01-01", "to", "2026-06-30"]

    shown = await courtyard("2026-H1", "--server", live_server)
    assert shown.exit_code == 0, shown.output
    assert "Transparency report 2026-H1" in shown.output
    assert "the period has ended" in shown.output
    assert "Counts are exact" in shown.output
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in shown.output.splitlines()}
    assert rows[("DE", "subpoena")] == ["3", "1", "1", "0", "2", "5", "3", "4", "0"]
    total = next(line for line in shown.output.splitlines() if line.startswith("total"))
    assert total.split()[1:] == ["7", "1", "2", "1", "3", "10", "5", "5", "2"]


@pytest.mark.usefixtures("desk")
async def test_the_cli_prints_the_servers_json_and_refuses_bad_periods(live_server: str) -> None:
    shown = await courtyard("2026-q3", "--json", "--server", live_server)
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.output)
    assert body["period"] == "2026-Q3"
    assert body["provisional"] is True
    assert body["totals"]["received"] == 2
    refused = await courtyard("2026-H3", "--server", live_server)
    assert refused.exit_code == 1
    assert "invalid_period" in refused.output
    bad_server = await courtyard("--server", "ftp://example.invalid")
    assert bad_server.exit_code == 1


@pytest.mark.usefixtures("desk")
async def test_the_console_page_shows_the_same_counts_to_the_legal_desk(
    client: httpx.AsyncClient, operators: OperatorFactory
) -> None:
    reviewer = await operators("rita", "legal_reviewer")
    current = await reviewer.http.get("/admin/legal/transparency")
    assert current.status_code == 200
    assert "Transparency report 2026-H2" in current.text  # the current half-year
    assert 'id="provisional"' in current.text
    page = await reviewer.http.get("/admin/legal/transparency?period=2026-H1")
    assert page.status_code == 200
    body = await report(client, "2026-H1")
    assert table_of(page.text) == {
        (r["country"], r["process_type"]): {n: r[n] for n in COUNTS} for r in body["rows"]
    }
    bad = await reviewer.http.get("/admin/legal/transparency?period=2026-H7")
    assert bad.status_code == 400
    support = await operators("sam", "support")
    assert (await support.http.get("/admin/legal/transparency")).status_code == 403
