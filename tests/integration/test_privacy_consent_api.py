"""Registration consents to the region's policy; a new version blocks every route but the
exempt ones until the user consents again; policies, diffs and consent records over the API
(docs/privacy-consent.md)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from courtyard.api.deps import consented_identity, current_identity
from courtyard.api.runtime import Runtime
from courtyard.core.clock import FrozenClock
from courtyard.domains.accounts.models import User
from courtyard.domains.privacy.models import ConsentRecord, UserConsent
from tests.conftest import PASSWORD, bearer, policy_consent, register
from tests.integration.consent_support import NEW_PARAGRAPH, publish_version, reconsent

# Authenticated routes a user reaches without consenting to the current version.
EXEMPT = {("DELETE", "/v1/sessions/current"), ("GET", "/v1/account")}


def account(username: str, region: str, **extra: Any) -> dict[str, Any]:
    return {"username": username, "password": PASSWORD, "display_name": username.title(),
            "region": region, **extra}  # fmt: skip


async def counts(app: FastAPI) -> tuple[int, int, int]:
    """Users, consents and consent records in the database."""
    runtime: Runtime = app.state.runtime
    async with runtime.db.read() as session:
        found = [
            int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (User, UserConsent, ConsentRecord)
        ]
    return found[0], found[1], found[2]


async def test_registration_without_a_policy_hash_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/accounts", json=account("alice", "DE"))
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
    assert "policy_version_hash" in response.text


async def test_registration_naming_another_version_is_refused_and_leaves_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    eu = await policy_consent(client, "DE")
    cn = await policy_consent(client, "CN")
    response = await client.post("/v1/accounts", json=account("alice", "DE", **cn))
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "policy_outdated"
    assert (problem["policy_region"], problem["current_version"]) == ("EU", 1)
    assert problem["current_version_hash"] == eu["policy_version_hash"]
    assert await counts(app) == (0, 0, 0)


@pytest.mark.parametrize(
    ("purposes", "status", "code"),
    [
        ({"marketing": True}, 422, "purpose_required"),  # cross_border is missing
        ({"cross_border": False}, 422, "purpose_required"),
        ({"cross_border": True, "favourite_colour": True}, 422, "unknown_purpose"),
    ],
)
async def test_a_cn_registration_needs_its_required_purpose(
    app: FastAPI, client: httpx.AsyncClient, purposes: dict[str, bool], status: int, code: str
) -> None:
    fields = {**await policy_consent(client, "CN"), "purposes": purposes}
    response = await client.post("/v1/accounts", json=account("meili", "CN", **fields))
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert await counts(app) == (0, 0, 0)


async def test_registration_records_the_consent_with_user_policy_hash_purposes_time_device(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    fields = await policy_consent(client, "CN")
    fields["purposes"] = {"cross_border": True, "marketing": True}  # not sensitive_data
    response = await client.post("/v1/accounts", json=account("meili", "CN", **fields))
    assert response.status_code == 201, response.text
    session = response.json()

    state = (await client.get("/v1/privacy/consent", headers=bearer(session))).json()
    assert state["policy_region"] == "CN"
    assert state["consented_version"] == state["current_version"] == 1
    assert state["consented_version_hash"] == fields["policy_version_hash"]
    assert (state["needs_reconsent"], state["service_usable"], state["wallet_usable"]) == (
        False, True, False,
    )  # fmt: skip
    granted = {p["purpose"]: (p["granted"], p["required"], p["gates"]) for p in state["purposes"]}
    assert granted == {
        "sensitive_data": (False, False, "wallet"),
        "cross_border": (True, True, "all"),
        "marketing": (True, False, "none"),
    }
    records = (await client.get("/v1/privacy/consent-records", headers=bearer(session))).json()
    rows = {(r["kind"], r["purpose"], r["granted"]) for r in records["records"]}
    assert rows == {("policy", None, True), ("purpose", "sensitive_data", False),
                    ("purpose", "cross_border", True), ("purpose", "marketing", True)}  # fmt: skip
    for record in records["records"]:
        assert record["user_id"] == session["user_id"]
        assert record["device_id"] == session["device_id"]
        assert (record["policy_region"], record["policy_version"]) == ("CN", 1)
        assert record["version_hash"] == fields["policy_version_hash"]
        assert record["at"].startswith(clock.now().isoformat()[:19])


async def test_no_account_exists_without_its_consent_when_a_version_lands_mid_registration(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime: Runtime = app.state.runtime
    checked = runtime.consent.check_registration

    async def check_then_publish(*args: Any) -> None:
        await checked(*args)
        await publish_version(app, "EU")  # between the check and the registration's commit

    monkeypatch.setattr(runtime.consent, "check_registration", check_then_publish)
    response = await client.post(
        "/v1/accounts", json=account("alice", "DE", **await policy_consent(client, "DE"))
    )
    assert response.status_code == 409
    assert response.json()["code"] == "policy_outdated"
    assert response.json()["current_version"] == 2
    assert await counts(app) == (0, 0, 0)


def gated_routes(app: FastAPI) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(routes behind the consent gate, authenticated routes that are not)."""

    def calls(dependant: Any) -> set[Any]:
        found = {dependant.call}
        for sub in dependant.dependencies:
            found |= calls(sub)
        return found

    def api_routes(routes: list[Any]) -> list[APIRoute]:
        found = []
        for route in routes:
            if isinstance(route, APIRoute):
                found.append(route)
            elif hasattr(route, "original_router"):  # FastAPI keeps included routers whole
                found += api_routes(route.original_router.routes)
        return found

    gated, exempt = set(), set()
    for route in api_routes(app.routes):
        used = calls(route.dependant)
        for method in route.methods or ():
            if consented_identity in used:
                gated.add((method, route.path))
            elif current_identity in used:
                exempt.add((method, route.path))
    return gated, exempt


async def test_a_new_version_blocks_every_route_but_the_exempt_ones_until_re_consent(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    alice = await register(client, "alice")
    gated, exempt = gated_routes(app)
    assert {r for r in exempt if not r[1].startswith("/v1/privacy/")} == EXEMPT
    assert ("GET", "/v1/wallet") in gated
    assert ("GET", "/v1/sync") in gated
    assert len(gated) > 40
    version, version_hash = await publish_version(app, "EU")

    for method, path in sorted(gated):
        url = re.sub(r"\{[^}]+\}", "x", path)
        refused = await client.request(method, url, headers=bearer(alice))
        assert refused.status_code == 403, (method, path, refused.text)
        problem = refused.json()
        assert problem["code"] == "consent_required", (method, path)
        assert (problem["policy_region"], problem["current_version"]) == ("EU", version)
        assert problem["current_version_hash"] == version_hash
        assert "purpose" not in problem
    me = await client.get("/v1/account", headers=bearer(alice))
    assert me.status_code == 200
    state = (await client.get("/v1/privacy/consent", headers=bearer(alice))).json()
    assert (state["needs_reconsent"], state["service_usable"]) == (True, False)
    assert (state["consented_version"], state["current_version"]) == (1, version)

    stale = await client.post(
        "/v1/privacy/consent", json={"version_hash": "0" * 64, "purposes": {}},
        headers=bearer(alice),
    )  # fmt: skip
    assert stale.status_code == 409
    assert stale.json()["code"] == "policy_outdated"
    assert (await client.get("/v1/devices", headers=bearer(alice))).status_code == 403

    accepted = await reconsent(client, alice)
    assert (accepted["consented_version"], accepted["needs_reconsent"]) == (version, False)
    assert (await client.get("/v1/devices", headers=bearer(alice))).status_code == 200
    records = (await client.get("/v1/privacy/consent-records", headers=bearer(alice))).json()
    newest = records["records"][0]
    assert newest["version_hash"] == version_hash
    assert newest["policy_version"] == version
    assert (await client.delete("/v1/sessions/current", headers=bearer(alice))).status_code == 204


async def test_sign_out_works_while_consent_is_needed(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    alice = await register(client, "alice")
    await publish_version(app, "EU")
    assert (await client.delete("/v1/sessions/current", headers=bearer(alice))).status_code == 204
    assert (await client.get("/v1/account", headers=bearer(alice))).status_code == 401


async def test_a_new_version_of_another_region_leaves_users_elsewhere_alone(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    alice = await register(client, "alice", region="DE")
    await publish_version(app, "CN")
    assert (await client.get("/v1/devices", headers=bearer(alice))).status_code == 200


async def test_the_diff_shows_what_changed_between_versions(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await publish_version(app, "default")
    response = await client.get("/v1/privacy/policies/default/diff", params={"from": 1})
    assert response.status_code == 200, response.text
    diff = response.json()
    assert (diff["policy_region"], diff["from_version"], diff["to_version"]) == ("default", 1, 2)
    assert f"+{NEW_PARAGRAPH}" in diff["lines"]
    assert diff["lines"][:2] == ["--- default version 1", "+++ default version 2"]
    assert not any(line.startswith("-") and not line.startswith("---") for line in diff["lines"])
    back = (
        await client.get("/v1/privacy/policies/DEFAULT/diff", params={"from": 2, "to": 1})
    ).json()
    assert f"-{NEW_PARAGRAPH}" in back["lines"]
    missing = await client.get("/v1/privacy/policies/default/diff", params={"from": 7})
    assert (missing.status_code, missing.json()["code"]) == (404, "policy_not_found")


async def test_policies_are_public_by_region_version_and_country(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await publish_version(app, "CN")
    current = (await client.get("/v1/privacy/policies/cn")).json()
    first = (await client.get("/v1/privacy/policies/CN", params={"version": 1})).json()
    by_country = (await client.get("/v1/privacy/policy", params={"country": "cn"})).json()
    assert (current["version"], first["version"]) == (2, 1)
    assert by_country == current
    assert NEW_PARAGRAPH in current["body"]
    assert NEW_PARAGRAPH not in first["body"]
    assert set(current["purposes"]) == {"sensitive_data", "cross_border", "marketing"}
    for country, region in (("IS", "EU"), ("US", "default"), ("fr", "EU")):
        found = await client.get("/v1/privacy/policy", params={"country": country})
        assert found.json()["policy_region"] == region
    bad = await client.get("/v1/privacy/policy", params={"country": "XX"})
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_region")
    assert (await client.get("/v1/privacy/policies/mars")).status_code == 404
    assert (await client.get("/v1/privacy/policies/EU", params={"version": 9})).status_code == 404


async def test_purposes_are_withdrawn_as_easily_as_given_and_each_change_is_recorded(
    client: httpx.AsyncClient,
) -> None:
    alice = await register(client, "alice")
    given = await client.put(
        "/v1/privacy/purposes/marketing", json={"granted": True}, headers=bearer(alice)
    )
    assert given.status_code == 200
    assert [p["granted"] for p in given.json()["purposes"]] == [True]
    again = await client.put(
        "/v1/privacy/purposes/marketing", json={"granted": True}, headers=bearer(alice)
    )
    withdrawn = await client.put(
        "/v1/privacy/purposes/marketing", json={"granted": False}, headers=bearer(alice)
    )
    assert again.status_code == withdrawn.status_code == 200
    assert [p["granted"] for p in withdrawn.json()["purposes"]] == [False]
    records = (await client.get("/v1/privacy/consent-records", headers=bearer(alice))).json()
    purpose_rows = [
        (r["purpose"], r["granted"]) for r in records["records"] if r["kind"] == "purpose"
    ]
    # Newest first: the withdrawal, the grant (the repeated grant changed nothing), then the
    # registration's choice.
    assert purpose_rows == [("marketing", False), ("marketing", True), ("marketing", False)]
    unknown = await client.put(
        "/v1/privacy/purposes/cross_border", json={"granted": True}, headers=bearer(alice)
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "purpose_not_found")


async def test_consent_routes_need_a_token(client: httpx.AsyncClient) -> None:
    for method, path in (("GET", "/v1/privacy/consent"), ("GET", "/v1/privacy/consent-records")):
        response = await client.request(method, path)
        assert response.status_code == 401
