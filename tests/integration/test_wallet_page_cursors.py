"""Page cursors that did not come from this server are refused or ignored, never a 500: a
NUL byte or an out-of-range number reaching PostgreSQL raised before (schemathesis found one
in `GET /v1/wallet/bills?before=`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from courtyard.core.clock import FrozenClock
from tests.integration.admin_support import (
    OperatorFactory,
    make_world,
    operator_factory,
)
from tests.integration.merchant_support import register_merchant
from tests.integration.wallet_support import member

FOREIGN = ["\x00", "01900000-0000-7000-8000-0000000000aa\x00", "not-an-id"]


@pytest.fixture
async def operators(app: FastAPI) -> AsyncIterator[OperatorFactory]:
    async for make in operator_factory(app):
        yield make


@pytest.mark.parametrize("before", FOREIGN)
async def test_member_cursors_from_elsewhere_are_400(
    client: httpx.AsyncClient, app: FastAPI, before: str
) -> None:
    owner = await member(client, "olive")
    merchant_id = await register_merchant(app, owner.user_id)
    pages = [
        ("/v1/wallet/bills", {"before": before}),
        ("/v1/wallet/statement", {"currency": "CNY", "cursor": f"2026-11-01T00:00:00Z|{before}"}),
        (
            f"/v1/wallet/merchants/{merchant_id}/payments",
            {"before": f"2026-11-01T00:00:00+00:00|{before}"},
        ),
    ]
    for path, params in pages:
        answer = await client.get(path, params=params, headers=owner.headers)
        assert answer.status_code == 400, (path, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")


@pytest.mark.usefixtures("fast_password_hashing")
async def test_console_posting_cursors_from_elsewhere_show_the_first_page(
    client: httpx.AsyncClient, app: FastAPI, clock: FrozenClock, operators: OperatorFactory
) -> None:
    world = await make_world(app, client, clock)
    olga = await operators("olga", "finance")
    first = await olga.http.get(f"/admin/ledger/accounts/{world.account_id}")
    assert first.status_code == 200, first.text
    for older in ("\x00.1", f"{world.entry_id}.99999999999", f"{world.entry_id}\x00.0"):
        page = await olga.http.get(
            f"/admin/ledger/accounts/{world.account_id}", params={"older": older}
        )
        assert page.status_code == 200, (older, page.text)
        assert world.entry_id in page.text
