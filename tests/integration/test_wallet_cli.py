"""``courtyard wallet`` against the app served on a loopback port: the CLI runs in a worker
thread (it has its own event loop), the server in the test's."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner, Result

from courtyard.cli.main import app as cli
from courtyard.client import Client, Profile
from tests.client_support import consent_for
from tests.conftest import PASSWORD
from tests.integration.wallet_support import fund

PIN = "246810"


async def courtyard(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> Result:
    def invoke() -> Result:
        return CliRunner().invoke(cli, ["wallet", *args], env=env, input=stdin)

    return await asyncio.to_thread(invoke)


async def signed_in(server: str, username: str, profile: Path) -> str:
    """Register ``username`` and save the session in ``profile``, as `courtyard register` does."""
    async with Client(server) as client:
        session = await client.register(
            username, PASSWORD, username.title(), "DE", **await consent_for(client, "DE")
        )
        Profile(profile).save(server, session)
        return session.user_id


@pytest.fixture
async def profiles(app: FastAPI, live_server: str, tmp_path: Path) -> tuple[str, str]:
    """Alice (100.00 CNY) and Bob signed in to profiles of their own, with a direct chat and,
    for Bob, a PIN; Alice's PIN is left for the test."""
    alice, bob = str(tmp_path / "alice"), str(tmp_path / "bob")
    alice_id = await signed_in(live_server, "alice", Path(alice))
    bob_id = await signed_in(live_server, "bob", Path(bob))
    await fund(app, alice_id, 10_000)
    stored = Profile(Path(alice)).load()
    assert stored is not None
    async with Client(live_server, stored.access_token) as client:
        body = {"kind": "direct", "members": [bob_id]}
        await client._call("POST", "/v1/conversations", json=body)
    return alice, bob


async def test_pin_transfer_accept_and_statement_from_the_command_line(
    profiles: tuple[str, str],
) -> None:
    alice, bob = profiles
    no_pin = await courtyard("balance", "--profile", alice)
    assert no_pin.exit_code == 0, no_pin.output
    assert "100.00" in no_pin.output
    assert "No payment PIN yet" in no_pin.output

    # Password from the environment, the new PIN typed twice at a hidden prompt.
    set_pin = await courtyard(
        "pin", "set", "--profile", alice,
        env={"COURTYARD_PASSWORD": PASSWORD}, stdin=f"{PIN}\n{PIN}\n",
    )  # fmt: skip
    assert set_pin.exit_code == 0, set_pin.output
    assert PIN not in set_pin.output
    assert "Payment PIN set." in set_pin.output

    pin_env = {"COURTYARD_PIN": PIN}
    sent = await courtyard("transfer", "bob", "10.50", "CNY", "--key", "k-1", "--profile", alice,
                           env=pin_env)  # fmt: skip
    assert sent.exit_code == 0, sent.output
    assert "10.50 CNY to bob, pending." in sent.output
    transfer_id = sent.output.split()[1].rstrip(":")
    again = await courtyard("transfer", "bob", "10.50", "CNY", "--key", "k-1", "--profile", alice,
                            env=pin_env)  # fmt: skip
    assert f"Transfer {transfer_id}:" in again.output
    assert "already sent earlier" in again.output

    listed = await courtyard("transfers", "--pending", "--role", "received", "--profile", bob)
    assert listed.exit_code == 0, listed.output
    assert transfer_id in listed.output
    accepted = await courtyard("accept", transfer_id, "--profile", bob)
    assert accepted.exit_code == 0, accepted.output
    assert "10.50 CNY accepted." in accepted.output
    assert "10.50" in (await courtyard("balance", "--profile", bob)).output

    table = await courtyard("statement", "--profile", alice)
    assert table.exit_code == 0, table.output
    assert "transfer_send" in table.output
    assert "-10.50" in table.output
    csv = await courtyard("statement", "--csv", "--currency", "CNY", "--profile", alice)
    assert csv.exit_code == 0, csv.output
    assert csv.output.startswith("posted_at,entry_id,kind")
    assert ",Bob,-10.50,CNY,89.50,transfer," in csv.output


async def test_refusals_and_bad_options_end_with_one_error_line(
    profiles: tuple[str, str],
) -> None:
    alice, bob = profiles
    no_pin = await courtyard("transfer", "bob", "1.00", "CNY", "--profile", alice,
                             env={"COURTYARD_PIN": PIN})  # fmt: skip
    assert no_pin.exit_code == 1
    assert "pin_not_set" in no_pin.output
    returned = await courtyard("return", "01900000-0000-7000-8000-000000000000", "--profile", bob)
    assert returned.exit_code == 1
    assert "transfer_not_found" in returned.output
    bad_role = await courtyard("transfers", "--role", "everyone", "--profile", bob)
    assert bad_role.exit_code == 1
    assert "--role must be sent or received" in bad_role.output


async def direct_with_bob(live_server: str, alice: str) -> str:
    stored = Profile(Path(alice)).load()
    assert stored is not None
    async with Client(live_server, stored.access_token) as client:
        listed = await client._call("GET", "/v1/conversations")
    (conversation_id,) = [c["conversation_id"] for c in listed if c["kind"] == "direct"]
    return str(conversation_id)


async def test_a_red_packet_sent_and_grabbed_from_the_command_line(
    profiles: tuple[str, str], live_server: str
) -> None:
    alice, bob = profiles
    conversation_id = await direct_with_bob(live_server, alice)
    set_pin = await courtyard(
        "pin", "set", "--profile", alice,
        env={"COURTYARD_PASSWORD": PASSWORD}, stdin=f"{PIN}\n{PIN}\n",
    )  # fmt: skip
    assert set_pin.exit_code == 0, set_pin.output
    pin_env = {"COURTYARD_PIN": PIN}

    sent = await courtyard("red-packet", conversation_id, "8.88", "CNY", "--key", "rp-1",
                           "--profile", alice, env=pin_env)  # fmt: skip
    assert sent.exit_code == 0, sent.output
    assert "8.88 CNY in 1 share, random." in sent.output
    assert PIN not in sent.output
    packet_id = sent.output.split()[2].rstrip(":")
    again = await courtyard("red-packet", conversation_id, "8.88", "CNY", "--key", "rp-1",
                            "--profile", alice, env=pin_env)  # fmt: skip
    assert f"Red packet {packet_id}:" in again.output
    assert "already sent earlier" in again.output

    own = await courtyard("grab", packet_id, "--profile", alice)
    assert own.exit_code == 1
    assert "not_eligible" in own.output
    got = await courtyard("grab", packet_id, "--profile", bob)
    assert got.exit_code == 0, got.output
    assert "You got 8.88 CNY." in got.output
    twice = await courtyard("grab", packet_id, "--profile", bob)
    assert "You got 8.88 CNY (opened earlier)." in twice.output
    assert "8.88" in (await courtyard("balance", "--profile", bob)).output
    assert "91.12" in (await courtyard("balance", "--profile", alice)).output


async def test_red_packet_options_reach_the_server_and_its_refusals_come_back(
    profiles: tuple[str, str], live_server: str
) -> None:
    alice, _ = profiles
    conversation_id = await direct_with_bob(live_server, alice)
    await courtyard("pin", "set", "--profile", alice,
                    env={"COURTYARD_PASSWORD": PASSWORD}, stdin=f"{PIN}\n{PIN}\n")  # fmt: skip
    pin_env = {"COURTYARD_PIN": PIN}
    # A direct chat's packet is one share for the other person: --count 2 is refused.
    shared = await courtyard("red-packet", conversation_id, "1.00", "CNY", "--count", "2",
                             "--fixed", "--to", "bob", "--profile", alice, env=pin_env)  # fmt: skip
    assert shared.exit_code == 1
    assert "not_eligible" in shared.output
    poor = await courtyard("red-packet", conversation_id, "150.00", "CNY", "--profile", alice,
                           env=pin_env)  # fmt: skip
    assert poor.exit_code == 1
    assert "insufficient_funds" in poor.output
    missing = await courtyard("grab", "01900000-0000-7000-8000-000000000000", "--profile", alice)
    assert missing.exit_code == 1
    assert "red_packet_not_found" in missing.output
