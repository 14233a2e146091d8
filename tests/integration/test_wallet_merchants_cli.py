"""``courtyard wallet pay|refund|merchants|qr`` against the app served on a loopback port:
the owner prints codes, the payer pays their text, the owner refunds and revokes."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI

from courtyard.client import Client, Profile
from courtyard.domains.wallet import audit_ledger
from tests.conftest import PASSWORD
from tests.integration.merchant_support import forge, register_merchant
from tests.integration.test_wallet_cli import courtyard, signed_in
from tests.integration.wallet_support import fund

PIN = "246810"
PIN_ENV = {"COURTYARD_PIN": PIN}


async def with_pin(server: str, profile: Path) -> None:
    stored = Profile(profile).load()
    assert stored is not None
    async with Client(server, stored.access_token) as client:
        await client.wallet.set_pin(PIN, password=PASSWORD)


def payload_in(output: str) -> str:
    match = re.search(r"courtyard://pay\?p=[A-Za-z0-9_-]+&s=[A-Za-z0-9_-]+", output)
    assert match, output
    return match.group(0)


async def test_codes_printed_paid_refunded_and_revoked_from_the_command_line(
    app: FastAPI, live_server: str, tmp_path: Path
) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    alice_id = await signed_in(live_server, "alice", alice)
    bob_id = await signed_in(live_server, "bob", bob)
    for profile in (alice, bob):
        await with_pin(live_server, profile)
    await fund(app, alice_id, 100_00)
    merchant_id = await register_merchant(app, bob_id)
    as_bob, as_alice = ["--profile", str(bob)], ["--profile", str(alice)]

    svg = tmp_path / "till.svg"
    fixed = await courtyard("qr", "create", "--merchant", merchant_id, "--amount", "25.00", "CNY",
                            "--label", "till", "--out", str(svg), *as_bob)  # fmt: skip
    assert fixed.exit_code == 0, fixed.output
    assert svg.read_bytes().startswith(b"<?xml")
    fixed_code = payload_in(fixed.output)
    png = tmp_path / "door.png"
    static = await courtyard("qr", "create", "--merchant", merchant_id, "--out", str(png), *as_bob)
    assert static.exit_code == 0, static.output
    assert "any amount in CNY" in static.output
    assert png.read_bytes().startswith(b"\x89PNG")
    static_code = payload_in(static.output)
    wrong_suffix = await courtyard(
        "qr", "create", "--merchant", merchant_id, "--out", str(tmp_path / "x.jpg"), *as_bob
    )
    assert (wrong_suffix.exit_code, "must end in .svg or .png" in wrong_suffix.output) == (1, True)
    listed = await courtyard("qr", "list", *as_bob)
    ids = re.findall(r"Code ([0-9a-f-]{36})", fixed.output + static.output)
    assert all(i in listed.output for i in ids), listed.output

    paid = await courtyard("pay", fixed_code, *as_alice, env=PIN_ENV)
    assert paid.exit_code == 0, paid.output
    assert "Paying Noodle Bar (food): 25.00 CNY" in paid.output
    assert PIN not in paid.output
    match = re.search(r"Payment ([0-9a-f-]{36}): 25.00 CNY to Noodle Bar\.", paid.output)
    assert match, paid.output
    payment_id = match.group(1)
    no_amount = await courtyard("pay", static_code, *as_alice, env=PIN_ENV)
    assert (no_amount.exit_code, "give --amount" in no_amount.output) == (1, True)
    some = await courtyard("pay", static_code, "--amount", "3.00", "--key", "p-1", *as_alice,
                           env=PIN_ENV)  # fmt: skip
    assert "3.00 CNY to Noodle Bar." in some.output, some.output
    again = await courtyard("pay", static_code, "--amount", "3.00", "--key", "p-1", *as_alice,
                            env=PIN_ENV)  # fmt: skip
    assert "already paid earlier with this key" in again.output
    forged = await courtyard("pay", forge(fixed_code, a=1), *as_alice, env=PIN_ENV)
    assert (forged.exit_code, "invalid_qr" in forged.output) == (1, True)

    shown = await courtyard("merchants", *as_bob)
    assert shown.exit_code == 0, shown.output
    assert "Noodle Bar (food, active)" in shown.output
    assert "28.00 CNY" in shown.output
    assert payment_id in shown.output
    refunded = await courtyard("refund", payment_id, "5.00", *as_bob, env=PIN_ENV)
    assert refunded.exit_code == 0, refunded.output
    assert "5.00 CNY; 5.00 CNY of 25.00 CNY refunded." in refunded.output
    payer = await courtyard("refund", payment_id, "1.00", *as_alice, env=PIN_ENV)
    assert (payer.exit_code, "not_merchant_owner" in payer.output) == (1, True)

    revoked = await courtyard("qr", "revoke", ids[0], *as_bob)
    assert f"Code {ids[0]} revoked." in revoked.output
    late = await courtyard("pay", fixed_code, *as_alice, env=PIN_ENV)
    assert (late.exit_code, "qr_revoked" in late.output) == (1, True)
    unknown = await courtyard("qr", "revoke", ids[0], *as_alice)
    assert (unknown.exit_code, "none of your merchants" in unknown.output) == (1, True)
    report = await audit_ledger(app.state.runtime.db)
    assert report.ok, report.findings
