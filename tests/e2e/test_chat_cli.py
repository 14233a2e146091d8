"""``courtyard chat`` between two profiles against a real ``courtyard serve`` process."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, PG_URL, drop_pg_database, recreate_pg_database
from tests.e2e.server_process import ServerProcess, clean_environment, courtyard_command

pytestmark = pytest.mark.e2e
PASSPHRASE = "chat cli passphrase"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    name = f"courtyard_e2e_chat_{os.getpid()}"
    data_dir = tmp_path / "server"
    url = (
        asyncio.run(recreate_pg_database(name))
        if PG_URL
        else f"sqlite:///{data_dir / 'courtyard.db'}"
    )
    with ServerProcess(data_dir, database_url=url) as node:
        yield node
    if PG_URL:
        asyncio.run(drop_pg_database(name))


class Profile:
    """Runs ``courtyard`` verbs for one profile directory, secrets in the environment."""

    def __init__(self, server: ServerProcess, directory: Path) -> None:
        self.server = server
        self.directory = directory

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        env = clean_environment(
            {"COURTYARD_PASSWORD": PASSWORD, "COURTYARD_PASSPHRASE": PASSPHRASE}
        )
        result = subprocess.run(
            [*courtyard_command(), *args, "--profile", str(self.directory)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if ok:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    def user_id(self) -> str:
        found = re.search(r"user id:\s+(\S+)", self.run("whoami").stdout)
        assert found is not None
        return found.group(1)


def _id(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    assert found is not None, text
    return found.group(1)


def test_two_profiles_chat_send_files_search_and_recall(
    server: ServerProcess, tmp_path: Path
) -> None:
    alice, bob = Profile(server, tmp_path / "alice"), Profile(server, tmp_path / "bob")
    alice.run("register", "cli_alice", "--region", "DE", "--accept-policy", "--server", server.url)
    bob.run("register", "cli_bob", "--region", "CN", "--accept-policy", "--server", server.url)
    bob.run("chat", "sync")  # bob's device publishes its keys

    created = alice.run("chat", "new", bob.user_id()).stdout
    conversation = _id(r"Conversation (\S+) \(direct\)", created)
    sent = alice.run("chat", "send", conversation, "hello from the cli 你好")
    assert "unverified" in sent.stderr  # bob's device was never verified: say so
    read = bob.run("chat", "read").stdout
    assert "hello from the cli 你好" in read

    original = os.urandom(50_000)
    (tmp_path / "report.pdf").write_bytes(original)
    file_sent = alice.run("chat", "send-file", conversation, str(tmp_path / "report.pdf"))
    file_id = _id(r"as (\S+)\.", file_sent.stdout)
    assert "report.pdf" in bob.run("chat", "read").stdout
    bob.run("chat", "save", file_id, str(tmp_path / "saved.pdf"))
    assert (tmp_path / "saved.pdf").read_bytes() == original

    assert "你好" in bob.run("chat", "search", "你好").stdout
    assert "hello from the cli" in bob.run("chat", "search", "from the").stdout
    assert "No messages found" in bob.run("chat", "search", "goodbye").stdout
    assert conversation in bob.run("chat", "list").stdout

    oops = alice.run("chat", "send", conversation, "sent by mistake")
    oops_id = _id(r"Sent (\S+)\.", oops.stdout)
    bob.run("chat", "read")
    alice.run("chat", "recall", oops_id)
    bob.run("chat", "read")
    history = bob.run("chat", "history", conversation).stdout
    assert "sent by mistake" not in history
    assert "(recalled)" in history
    assert "No messages found" in bob.run("chat", "search", "mistake").stdout

    # Alice verifies Bob's device with the fingerprint Bob reads out; the warning goes away.
    bob_fingerprint = bob.run("chat", "fingerprint").stdout.strip()
    bob_device = _id(
        r"\S+ (\S+)\s+(?:new|unverified)", alice.run("chat", "security", conversation).stdout
    )
    refused = alice.run("chat", "verify", bob.user_id(), bob_device, "AAAA BBBB", ok=False)
    assert refused.returncode == 1
    assert "not this device's fingerprint" in refused.stderr
    alice.run("chat", "verify", bob.user_id(), bob_device, bob_fingerprint)
    assert "verified" in alice.run("chat", "security", conversation).stdout
    after = alice.run("chat", "send", conversation, "now verified")
    assert "unverified" not in after.stderr


def test_chat_refuses_a_wrong_passphrase(server: ServerProcess, tmp_path: Path) -> None:
    carol = Profile(server, tmp_path / "carol")
    carol.run("register", "cli_carol", "--region", "DE", "--accept-policy", "--server", server.url)
    carol.run("chat", "list")

    env = clean_environment({"COURTYARD_PASSPHRASE": "wrong"})
    result = subprocess.run(
        [*courtyard_command(), "chat", "list", "--profile", str(carol.directory)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "passphrase" in result.stderr
