"""The SDK and the client verbs against a real ``courtyard serve`` process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from courtyard.client import AuthError, Backoff, Client, Profile
from tests.client_support import Collector, assert_exactly_once_in_order, consent_for
from tests.conftest import PASSWORD, PG_URL, drop_pg_database, recreate_pg_database
from tests.e2e.server_process import (
    ServerProcess,
    clean_environment,
    courtyard_command,
    free_port,
)

pytestmark = pytest.mark.e2e
FAST = Backoff(initial=0.05, maximum=0.3)


def _database(name: str, data_dir: Path) -> str:
    """A fresh database: PostgreSQL when ``COURTYARD_TEST_PG`` is set, else SQLite."""
    if PG_URL:
        return asyncio.run(recreate_pg_database(name))
    return f"sqlite:///{data_dir / 'courtyard.db'}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server process shared by this module's tests (each uses its own usernames)."""
    data_dir = tmp_path_factory.mktemp("server")
    name = f"courtyard_e2e_{os.getpid()}"
    with ServerProcess(data_dir, database_url=_database(name, data_dir)) as node:
        yield node
    if PG_URL:
        asyncio.run(drop_pg_database(name))


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server process for one test, which may restart or crash it."""
    name = f"courtyard_e2e_own_{os.getpid()}"
    with ServerProcess(tmp_path / "server", database_url=_database(name, tmp_path)) as node:
        yield node
    if PG_URL:
        asyncio.run(drop_pg_database(name))


# --- the SDK ------------------------------------------------------------------------------


async def test_sdk_devices_learn_of_each_other_over_the_socket(server: ServerProcess) -> None:
    async with Client(server.url, backoff=FAST) as laptop, Client(server.url) as phone:
        first = await laptop.register(
            "sdk_alice",
            PASSWORD,
            "Alice",
            "DE",
            device_name="laptop",
            **await consent_for(laptop, "DE"),
        )
        async with Collector(laptop.events(since=0)) as sink:
            await sink.wait_for(1)
            second = await phone.login("sdk_alice", PASSWORD, device_name="phone")
            await phone.update_profile("Ally")
            token = phone.token
            await phone.logout()
            events = await sink.wait_for(4)
            await sink.settle(0.2)
        assert [e.type for e in sink.events] == [
            "device.added", "device.added", "profile.changed", "device.removed"]  # fmt: skip
        assert events[0].content["device_id"] == first.device_id
        assert events[3].content == {"device_id": second.device_id}
        assert_exactly_once_in_order(sink.events)
        assert [d.device_id for d in await laptop.devices()] == [first.device_id]
    async with Client(server.url, token=token) as stale:
        with pytest.raises(AuthError) as raised:
            await stale.whoami()
    assert raised.value.code == "invalid_token"


async def test_sdk_events_survive_a_restart_and_a_crash(own_server: ServerProcess) -> None:
    async def write(*names: str) -> None:
        # A new client each time: its connections must not outlive a server.
        async with Client(own_server.url) as writer:
            await writer.login("sdk_bob", PASSWORD, device_name="writer")
            for name in names:
                await writer.update_profile(name)

    async with Client(own_server.url, backoff=FAST) as reader:
        await reader.register(
            "sdk_bob",
            PASSWORD,
            "Bob",
            "FR",
            device_name="reader",
            **await consent_for(reader, "FR"),
        )
        async with Collector(reader.events(since=0, mode="ws")) as sink:
            await write("one", "two")
            await sink.wait_for(4)
            await asyncio.to_thread(own_server.restart)
            await write("three", "four")
            await sink.wait_for(7)
            await asyncio.to_thread(own_server.restart, crash=True)
            await write("five")
            received = await sink.wait_for(9, within=15)
            await sink.settle(0.3)
        truth, _ = await reader.sync_once(since=0, limit=500)
    assert sink.error is None
    assert_exactly_once_in_order(sink.events)
    assert [e.event_id for e in sink.events] == [e.event_id for e in truth]
    assert [e.content.get("display_name") for e in received if e.type == "profile.changed"] == [
        "one", "two", "three", "four", "five"]  # fmt: skip


# --- the CLI ------------------------------------------------------------------------------


def courtyard(
    *args: str, home: Path, password: str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the ``courtyard`` console script with a clean environment and no terminal."""
    extra = {"HOME": str(home), "COLUMNS": "200"}
    if password is not None:
        extra["COURTYARD_PASSWORD"] = password
    return subprocess.run(
        [*courtyard_command(), *args],
        env=clean_environment(extra),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,  # no controlling terminal: prompts read stdin
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for text in expected:
        assert text in lines[0]


def test_cli_register_whoami_devices_events_and_logout(
    server: ServerProcess, tmp_path: Path
) -> None:
    laptop, phone = tmp_path / "laptop", tmp_path / "phone"
    registered = courtyard("register", "cli_carol", "--region", "de", "--device-name", "laptop",
                           "--accept-policy", "--profile", str(laptop), "--server", server.url,
                           home=tmp_path, password=PASSWORD)  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    session_file = laptop / "session.json"
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(laptop.stat().st_mode) == 0o700
    stored = json.loads(session_file.read_text())
    assert (stored["server"], stored["username"]) == (server.url, "cli_carol")
    assert stored["access_token"] not in registered.stdout + registered.stderr
    assert PASSWORD not in registered.stdout + registered.stderr

    me = courtyard("whoami", "--profile", str(laptop), home=tmp_path)  # server from the profile
    assert me.returncode == 0, me.stderr
    assert "cli_carol" in me.stdout
    assert stored["device_id"] in me.stdout
    assert "DE" in me.stdout

    logged_in = courtyard("login", "cli_carol", "--device-name", "phone", "--profile", str(phone),
                          "--server", server.url, home=tmp_path, password=PASSWORD)  # fmt: skip
    assert logged_in.returncode == 0, logged_in.stderr
    phone_id = json.loads((phone / "session.json").read_text())["device_id"]

    renamed = courtyard("devices", "rename", phone_id, "pocket", "--profile", str(laptop),
                        home=tmp_path)  # fmt: skip
    assert renamed.returncode == 0, renamed.stderr
    listed = courtyard("devices", "--profile", str(laptop), home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[1]: line for line in listed.stdout.splitlines() if phone_id in line
            or stored["device_id"] in line}  # fmt: skip
    assert set(rows) == {stored["device_id"], phone_id}
    mine, theirs = rows[stored["device_id"]], rows[phone_id]
    assert "this device" in mine
    assert "laptop" in mine
    assert "pocket" in theirs
    assert "this device" not in theirs

    printed = courtyard("events", "--json", "--profile", str(laptop), home=tmp_path)
    assert printed.returncode == 0, printed.stderr
    events = [json.loads(line) for line in printed.stdout.splitlines()]
    assert [e["type"] for e in events] == ["device.added", "device.added", "device.renamed"]
    again = courtyard("events", "--json", "--profile", str(laptop), home=tmp_path)
    assert (again.returncode, again.stdout) == (0, ""), "seen events were printed twice"

    removed = courtyard("devices", "remove", phone_id, "--profile", str(laptop), home=tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert_one_line_error(courtyard("whoami", "--profile", str(phone), home=tmp_path),
                          "invalid_token")  # fmt: skip

    out = courtyard("logout", "--profile", str(laptop), home=tmp_path)
    assert out.returncode == 0, out.stderr
    assert not session_file.exists()
    assert_one_line_error(courtyard("whoami", "--profile", str(laptop), home=tmp_path),
                          "not signed in")  # fmt: skip


def test_cli_prompts_for_a_password_and_never_takes_one_as_an_option(
    server: ServerProcess, tmp_path: Path
) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        helps = pool.map(lambda v: courtyard(v, "--help", home=tmp_path), ("register", "login"))
        rejecting = pool.submit(courtyard, "login", "cli_dave", "--password", PASSWORD,
                                "--server", server.url, home=tmp_path)  # fmt: skip
        for shown in helps:
            assert shown.returncode == 0
            assert "--password" not in shown.stdout
        rejected = rejecting.result()
    assert rejected.returncode == 2
    assert "No such option" in rejected.stderr
    assert not (tmp_path / ".courtyard" / "default" / "session.json").exists()

    typed = courtyard("register", "cli_dave", "--region", "FR", "--server", server.url,
                      "--accept-policy", home=tmp_path,
                      stdin=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
    assert typed.returncode == 0, typed.stderr
    assert PASSWORD not in typed.stdout + typed.stderr
    default_profile = tmp_path / ".courtyard" / "default" / "session.json"
    assert json.loads(default_profile.read_text())["username"] == "cli_dave"
    assert stat.S_IMODE(default_profile.parent.parent.stat().st_mode) == 0o700

    mismatch = courtyard("register", "cli_erin", "--region", "FR", "--server", server.url,
                         "--accept-policy", "--profile", str(tmp_path / "erin"), home=tmp_path,
                         stdin=f"{PASSWORD}\nsomething else entirely\n")  # fmt: skip
    assert mismatch.returncode != 0
    assert not (tmp_path / "erin" / "session.json").exists()


async def test_cli_follows_events_live_until_interrupted(
    server: ServerProcess, tmp_path: Path
) -> None:
    profile = Profile(tmp_path / "p")
    async with Client(server.url) as client:
        profile.save(
            server.url,
            await client.register(
                "cli_gina", PASSWORD, "Gina", "DE", **await consent_for(client, "DE")
            ),
        )
        follower = await asyncio.create_subprocess_exec(
            *courtyard_command(), "events", "--follow", "--json",
            "--profile", str(profile.directory),
            env=clean_environment({"HOME": str(tmp_path)}),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        assert follower.stdout is not None
        try:
            async with asyncio.timeout(20):
                first = json.loads(await follower.stdout.readline())
                await client.update_profile("Gigi")
                second = json.loads(await follower.stdout.readline())
        finally:
            follower.send_signal(signal.SIGINT)
            async with asyncio.timeout(20):
                _, stderr = await follower.communicate()
    assert (first["type"], second["type"]) == ("device.added", "profile.changed")
    assert second["content"] == {"display_name": "Gigi"}
    assert follower.returncode == 130
    assert b"Traceback" not in stderr


def test_cli_errors_are_one_line(server: ServerProcess, tmp_path: Path) -> None:
    profile = str(tmp_path / "p")
    ok = courtyard("register", "cli_frank", "--region", "DE", "--profile", profile,
                   "--accept-policy", "--server", server.url, home=tmp_path,
                   password=PASSWORD)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    nowhere = f"http://127.0.0.1:{free_port()}"
    cases: list[tuple[tuple[str, ...], str | None, str]] = [
        (("login", "cli_frank", "--profile", str(tmp_path / "q"), "--server", server.url),
         "not the right password", "invalid_credentials"),
        (("register", "cli_frank", "--region", "DE", "--profile", str(tmp_path / "r"),
          "--accept-policy", "--server", server.url), PASSWORD, "username_taken"),
        (("login", "cli_frank", "--profile", profile), PASSWORD, "already signed in"),
        (("whoami", "--profile", profile, "--server", "http://127.0.0.1:1"), None, "signed in to"),
        (("login", "cli_frank", "--profile", str(tmp_path / "s"), "--server", nowhere),
         PASSWORD, "cannot reach the server"),
        (("devices", "remove", "no-such-device", "--profile", profile), None, "device_not_found"),
    ]  # fmt: skip
    # Independent commands, run side by side: each process spends most of its time starting.
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(
            lambda case: courtyard(*case[0], home=tmp_path, password=case[1]), cases))  # fmt: skip
    for (_, _, expected), result in zip(cases, results, strict=True):
        assert_one_line_error(result, expected)
