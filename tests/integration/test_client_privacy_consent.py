"""The SDK's policy and consent calls (``client.privacy``), and ``ConsentRequired`` from a
refused call and from a sync socket closed with 4403."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from courtyard.client import ApiError, Client, ConsentRequired, SyncEvent
from tests.client_support import consent_for
from tests.conftest import PASSWORD
from tests.integration.consent_support import NEW_PARAGRAPH, publish_version

BASE_URL = "http://courtyard.test"


@pytest.fixture
async def sdk(app: FastAPI) -> AsyncIterator[Client]:
    async with Client(BASE_URL, transport=httpx.ASGITransport(app=app)) as client:
        yield client


async def test_register_with_the_policy_read_first_and_its_chosen_purposes(sdk: Client) -> None:
    policy = await sdk.privacy.policy_for("CN")
    assert policy.policy_region == "CN"
    assert policy.purposes["cross_border"].required
    assert policy.choices("sensitive_data") == {
        "sensitive_data": True, "cross_border": True, "marketing": False,
    }  # fmt: skip
    session = await sdk.register(
        "meili", PASSWORD, "Mei", "CN",
        policy_version_hash=policy.version_hash, purposes=policy.choices(),
    )  # fmt: skip
    state = await sdk.privacy.consent_state()
    assert (state.policy_region, state.consented_version, state.needs_reconsent) == ("CN", 1, False)
    assert (state.service_usable, state.wallet_usable) == (True, False)
    records = await sdk.privacy.consent_records()
    assert {r.device_id for r in records} == {session.device_id}
    assert {r.version_hash for r in records} == {policy.version_hash}


async def test_registering_without_a_required_purpose_is_refused(sdk: Client) -> None:
    policy = await sdk.privacy.policy_for("CN")
    with pytest.raises(ApiError) as refused:
        await sdk.register(
            "meili", PASSWORD, "Mei", "CN", policy_version_hash=policy.version_hash, purposes={}
        )
    assert (refused.value.status, refused.value.code) == (422, "purpose_required")
    assert refused.value.extra["purpose"] == "cross_border"


async def test_consent_required_is_easy_to_catch_and_to_resolve(app: FastAPI, sdk: Client) -> None:
    await sdk.register("alice", PASSWORD, "Alice", "DE", **await consent_for(sdk, "DE"))
    version, version_hash = await publish_version(app, "EU")
    with pytest.raises(ConsentRequired) as refused:
        await sdk.devices()
    assert refused.value.status == 403
    assert (refused.value.policy_region, refused.value.current_version) == ("EU", version)
    assert refused.value.current_version_hash == version_hash
    assert refused.value.purpose is None

    state = await sdk.privacy.consent_state()
    assert state.needs_reconsent
    diff = await sdk.privacy.diff("EU", state.consented_version or 1)
    assert f"+{NEW_PARAGRAPH}" in diff.lines
    assert (diff.from_version, diff.to_version) == (1, version)
    older = await sdk.privacy.policy("EU", version=1)
    assert NEW_PARAGRAPH not in older.body
    done = await sdk.privacy.consent(state.current_version_hash, {"marketing": True})
    assert (done.needs_reconsent, done.purpose("marketing").granted) == (False, True)  # type: ignore[union-attr]
    assert len(await sdk.devices()) == 1


async def test_a_withdrawn_wallet_purpose_names_itself(sdk: Client) -> None:
    await sdk.register("meili", PASSWORD, "Mei", "CN", **await consent_for(sdk, "CN"))
    state = await sdk.privacy.set_purpose("sensitive_data", False)
    assert not state.wallet_usable
    with pytest.raises(ConsentRequired) as refused:
        await sdk.wallet.overview()
    assert refused.value.purpose == "sensitive_data"
    await sdk.privacy.set_purpose("sensitive_data", True)
    assert (await sdk.wallet.overview()).balances


async def test_the_sync_socket_closing_for_consent_raises_consent_required(
    app: FastAPI, live_server: str
) -> None:
    async with Client(live_server) as client:
        await client.register("alice", PASSWORD, "Alice", "DE", **await consent_for(client, "DE"))
        await publish_version(app, "EU")
        with pytest.raises(ConsentRequired):
            await asyncio.wait_for(drain(client.events(mode="ws")), 10)
        with pytest.raises(ConsentRequired):
            await asyncio.wait_for(drain(client.events(mode="poll")), 10)


async def drain(events: AsyncIterator[SyncEvent]) -> None:
    async for _event in events:
        pass
