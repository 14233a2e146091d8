"""A hypothesis state machine over the wallet's flows: funding, transfers (accept, return,
the 24-hour refund), red packets (grab, expiry), QR payments to a merchant (static and fixed
codes) and their partial refunds, bills, replays and wrong PINs, in any order, with a frozen
clock. After every step the ledger audit is clean (every entry balanced per currency, cached =
derived, nothing negative) and each balance, the merchant's included, equals a pure-Python
model."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
)

from courtyard.api import create_app
from courtyard.core.clock import FrozenClock
from courtyard.core.config import load_settings
from courtyard.core.ids import new_id
from courtyard.domains.wallet import audit_ledger
from courtyard.domains.wallet.models import LedgerAccount
from tests.conftest import PASSWORD, PG_URL, _truncate_all
from tests.integration.bill_support import MOBILE, register_biller
from tests.integration.bill_support import pay_bill as post_bill
from tests.integration.merchant_support import make_code, register_merchant
from tests.integration.merchant_support import pay as post_payment
from tests.integration.wallet_support import PIN, Member, direct, fund, member

NAMES = ("ann", "ben", "cat")
amounts = st.integers(min_value=1, max_value=60_00)
START_MINOR = 150_00
Sent = tuple[str, str, str, dict[str, Any], dict[str, Any]]


def money(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


class WalletMachine(RuleBasedStateMachine):
    """The system under test is the real app on a fresh database; the model is a dict."""

    transfers = Bundle("transfers")
    packets = Bundle("packets")
    sent = Bundle("sent")
    payments = Bundle("payments")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = FrozenClock()
        self.model = dict.fromkeys(NAMES, 0)
        self.pending: dict[str, tuple[str, str, int]] = {}
        self.open_packets: dict[str, tuple[str, int]] = {}  # packet -> sender, unclaimed total
        self.grabbed: set[tuple[str, str]] = set()
        self.merchant_balance = 0  # cat's shop, apart from cat's own wallet
        self.paid: dict[str, tuple[str, int, int]] = {}  # payment -> payer, amount, refunded
        self.run(self._start())

    def run(self, step: Any) -> Any:
        return self.loop.run_until_complete(step)

    async def _start(self) -> None:
        url = await TEMPLATE.fresh()
        self.app = create_app(
            load_settings(database_url=url, data_dir=TEMPLATE.directory, log_format="text"),
            clock=self.clock,
        )
        await self.app.state.runtime.start()
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://courtyard.test"
        )
        self.users = {name: await member(self.http, name) for name in NAMES}
        for name in NAMES:
            await fund(self.app, self.users[name].user_id, START_MINOR)
            self.model[name] = START_MINOR
        for a, b in (("ann", "ben"), ("ann", "cat"), ("ben", "cat")):
            await direct(self.http, self.users[a], self.users[b])
        others = [self.users["ben"].user_id, self.users["cat"].user_id]
        created = await self.http.post(
            "/v1/conversations", json={"kind": "group", "members": others},
            headers=self.users["ann"].headers,
        )  # fmt: skip
        self.group = created.json()["conversation_id"]
        for name in ("ben", "cat"):
            await self.http.post(
                f"/v1/conversations/{self.group}/join", headers=self.users[name].headers
            )
        self.merchant = await register_merchant(self.app, self.users["cat"].user_id)
        self.static_qr = (await make_code(self.http, self.users["cat"], self.merchant))["payload"]
        self.fixed_qr = (
            await make_code(self.http, self.users["cat"], self.merchant, amount="25.00")
        )["payload"]
        self.biller = await register_biller(
            self.app, "Courtyard Mobile", "phone", pattern="^1[3-9][0-9]{9}$", high="500.00"
        )

    def teardown(self) -> None:
        async def stop() -> None:
            await self.http.aclose()
            await self.app.state.runtime.stop()

        self.run(stop())
        self.loop.close()

    def who(self, name: str) -> Member:
        return self.users[name]

    @rule(name=st.sampled_from(NAMES), amount=st.integers(10_00, 300_00))
    def fund_user(self, name: str, amount: int) -> None:
        self.run(fund(self.app, self.who(name).user_id, amount))
        self.model[name] += amount

    @rule(
        target=sent,
        pair=st.permutations(NAMES).map(lambda p: p[:2]),
        amount=amounts,
        right_pin=st.integers(0, 7).map(bool),  # one attempt in eight with a wrong PIN
    )
    def send_transfer(self, pair: tuple[str, str], amount: int, right_pin: bool) -> Any:
        sender, recipient = pair
        body = {"to_user_id": self.who(recipient).user_id, "amount": money(amount),
                "currency": "CNY", "pin": PIN if right_pin else "135790"}  # fmt: skip
        key = new_id()
        answer = self.run(self._post_transfer(sender, body, key))
        if not right_pin:
            assert answer.json()["code"] in ("wrong_pin", "pin_locked")
            if answer.json()["code"] == "pin_locked":  # set it again with the password
                again = self.run(self.http.put(
                    "/v1/wallet/pin", json={"pin": PIN, "password": PASSWORD},
                    headers=self.who(sender).headers,
                ))  # fmt: skip
                assert again.status_code == 204
            return multiple()
        if amount > self.model[sender]:
            assert answer.json()["code"] == "insufficient_funds"
            return multiple()
        assert answer.status_code == 201, answer.text
        transfer_id = answer.json()["transfer_id"]
        self.model[sender] -= amount
        self.pending[transfer_id] = (sender, recipient, amount)
        return (sender, recipient, key, body, answer.json())

    async def _post_transfer(self, sender: str, body: dict[str, Any], key: str) -> Any:
        headers = {**self.who(sender).headers, "Idempotency-Key": key}
        return await self.http.post("/v1/wallet/transfers", json=body, headers=headers)

    @rule(previous=sent)
    def replay_transfer(self, previous: Sent) -> None:
        sender, _recipient, key, body, first = previous
        again = self.run(self._post_transfer(sender, body, key))
        assert again.json() == {**first, "replayed": True}
        changed = self.run(
            self._post_transfer(
                sender, {**body, "amount": "0.02" if body["amount"] == "0.01" else "0.01"}, key
            )
        )
        assert changed.json()["code"] == "idempotency_key_reused"

    @rule(previous=sent, accept=st.booleans())
    def resolve(self, previous: Sent, accept: bool) -> None:
        sender, recipient, _key, _body, first = previous
        transfer_id = first["transfer_id"]
        verb = "accept" if accept else "return"
        answer = self.run(
            self.http.post(
                f"/v1/wallet/transfers/{transfer_id}/{verb}", headers=self.who(recipient).headers
            )
        )
        if transfer_id not in self.pending:  # already accepted, returned or refunded
            assert answer.status_code in (200, 409), answer.text
            return
        assert answer.status_code == 200, answer.text
        amount = self.pending.pop(transfer_id)[2]
        self.model[recipient if accept else sender] += amount

    @rule(target=packets, sender=st.sampled_from(NAMES), count=st.integers(1, 4),
          amount=st.integers(4, 40_00), fixed=st.booleans())  # fmt: skip
    def send_packet(self, sender: str, count: int, amount: int, fixed: bool) -> Any:
        total = amount * count if fixed else amount
        body = {"conversation_id": self.group, "audience": "group", "count": count,
                "split": "fixed" if fixed else "random", "amount": money(amount),
                "currency": "CNY", "pin": PIN}  # fmt: skip
        headers = {**self.who(sender).headers, "Idempotency-Key": new_id()}
        answer = self.run(self.http.post("/v1/wallet/red-packets", json=body, headers=headers))
        if total > 200_00:
            assert answer.json()["code"] == "red_packet_cap_exceeded"
            return multiple()
        if total > self.model[sender]:
            assert answer.json()["code"] == "insufficient_funds", answer.text
            return multiple()
        assert answer.status_code == 201, answer.text
        self.model[sender] -= total
        packet_id = answer.json()["packet_id"]
        self.open_packets[packet_id] = (sender, total)
        return packet_id

    @rule(packet_id=packets, name=st.sampled_from(NAMES))
    def grab(self, packet_id: str, name: str) -> None:
        answer = self.run(
            self.http.post(
                f"/v1/wallet/red-packets/{packet_id}/grab", headers=self.who(name).headers
            )
        )
        if answer.status_code != 200:
            assert answer.json()["code"] in ("red_packet_empty", "red_packet_expired")
            return
        if answer.json()["replayed"]:
            assert (packet_id, name) in self.grabbed
            return
        got = answer.json()["amount"]["amount_minor"]
        sender, left = self.open_packets[packet_id]
        self.open_packets[packet_id] = (sender, left - got)
        self.grabbed.add((packet_id, name))
        self.model[name] += got

    @rule(target=payments, payer=st.sampled_from(("ann", "ben")), amount=amounts,
          fixed=st.booleans())  # fmt: skip
    def pay_merchant(self, payer: str, amount: int, fixed: bool) -> Any:
        qr, amount = (self.fixed_qr, 25_00) if fixed else (self.static_qr, amount)
        answer = self.run(
            post_payment(self.http, self.who(payer), qr, None if fixed else money(amount))
        )
        if amount > self.model[payer]:
            assert answer.json()["code"] == "insufficient_funds", answer.text
            return multiple()
        assert answer.status_code == 201, answer.text
        self.model[payer] -= amount
        self.merchant_balance += amount
        payment_id = answer.json()["payment_id"]
        self.paid[payment_id] = (payer, amount, 0)
        return payment_id

    @rule(payment_id=payments, amount=amounts)
    def refund(self, payment_id: str, amount: int) -> None:
        payer, paid, refunded = self.paid[payment_id]
        answer = self.run(
            self.http.post(
                f"/v1/wallet/payments/{payment_id}/refunds",
                json={"amount": money(amount), "pin": PIN},
                headers={**self.who("cat").headers, "Idempotency-Key": new_id()},
            )
        )
        if refunded + amount > paid:
            assert answer.json()["code"] == "refund_exceeds_payment", answer.text
            return
        if amount > self.merchant_balance:
            assert answer.json()["code"] == "insufficient_funds", answer.text
            return
        assert answer.status_code == 201, answer.text
        self.paid[payment_id] = (payer, paid, refunded + amount)
        self.merchant_balance -= amount
        self.model[payer] += amount

    @rule(payer=st.sampled_from(NAMES), amount=st.integers(1_00, 80_00), good=st.booleans())
    def pay_bill(self, payer: str, amount: int, good: bool) -> None:
        reference = MOBILE if good else "12345"
        answer = self.run(
            post_bill(self.http, self.who(payer), self.biller, money(amount), reference=reference)
        )
        if not good:
            assert answer.json()["code"] == "invalid_reference", answer.text
            return
        if amount > self.model[payer]:
            assert answer.json()["code"] == "insufficient_funds", answer.text
            return
        assert answer.status_code == 201, answer.text
        self.model[payer] -= amount

    @rule(hours=st.sampled_from([1, 12, 24]))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(hours=hours)
        self.run(self._run_due())
        for transfer_id, (sender, _recipient, amount) in list(self.pending.items()):
            state = self.run(self.http.get(
                f"/v1/wallet/transfers/{transfer_id}", headers=self.who(sender).headers
            )).json()["state"]  # fmt: skip
            if state == "refunded":
                del self.pending[transfer_id]
                self.model[sender] += amount
        for packet_id, (sender, left) in list(self.open_packets.items()):
            state = self.run(self.http.get(
                f"/v1/wallet/red-packets/{packet_id}", headers=self.who(sender).headers
            )).json()  # fmt: skip
            if state["state"] != "open":
                assert state["refunded"]["amount_minor"] == left
                self.model[sender] += left
                del self.open_packets[packet_id]

    async def _run_due(self) -> None:
        while await self.app.state.runtime.due.run_due():
            pass

    @invariant()
    def books_balance_and_match_the_model(self) -> None:
        report = self.run(audit_ledger(self.app.state.runtime.db))
        assert report.ok, report.findings
        for name, expected in self.model.items():
            overview = self.run(self.http.get("/v1/wallet", headers=self.who(name).headers))
            cny = next(a for a in overview.json()["accounts"] if a["currency"] == "CNY")
            assert cny["balance"]["amount_minor"] == expected, (name, expected)
        assert self.run(self._merchant_balance()) == self.merchant_balance

    async def _merchant_balance(self) -> int:
        wallet = self.app.state.runtime.wallet
        account = await wallet.accounts.find_merchant(self.merchant, "CNY")
        if account is None:
            return 0
        async with wallet.db.read() as session:
            row = await session.get(LedgerAccount, account.account_id)
        assert row is not None
        assert row.balance_minor is not None
        return int(row.balance_minor)


class _Template:
    """A migrated database each example starts from (copied on SQLite, truncated on PG)."""

    path: Path
    directory: Path
    url: str

    async def fresh(self) -> str:
        if PG_URL:
            await _truncate_all(self.url)
            return self.url
        target = self.directory / f"{new_id()}.db"
        shutil.copyfile(self.path, target)
        return f"sqlite+aiosqlite:///{target}"


TEMPLATE = _Template()


@pytest.mark.usefixtures("fast_password_hashing")
def test_every_flow_keeps_the_books_balanced(migrated_template: str, tmp_path: Path) -> None:
    TEMPLATE.directory = tmp_path
    if PG_URL:
        TEMPLATE.url = migrated_template
    else:
        TEMPLATE.path = Path(migrated_template)
    WalletMachine.TestCase.settings = settings(
        max_examples=12,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    WalletMachine.TestCase().runTest()
