"""Helpers for the policy and consent tests: publish a new version of a region's policy as an
operator would, and consent to the current one through the API."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import httpx
from fastapi import FastAPI

from courtyard.api.runtime import Runtime
from tests.conftest import bearer

NEW_PARAGRAPH = "We now also keep your <b>favourite colour</b> & mood."


def shipped_text(region: str) -> str:
    """The template shipped for ``region`` (``CN``, ``EU``, ``default``)."""
    path = files("courtyard.domains.privacy").joinpath(f"policies/{region.lower()}.md")
    return path.read_text(encoding="utf-8")


def changed_text(region: str, paragraph: str = NEW_PARAGRAPH) -> str:
    """The shipped template with ``paragraph`` added before its last section."""
    text = shipped_text(region)
    head, _, last = text.rpartition("\n## ")
    return f"{head}\n{paragraph}\n\n## {last}"


async def publish_version(
    app: FastAPI, region: str, text: str | None = None, operator_id: str = "op-test"
) -> tuple[int, str]:
    """Publish ``text`` (default: the shipped one with a new paragraph) as the next version of
    ``region``'s policy, by an operator, on this node; its version and hash."""
    runtime: Runtime = app.state.runtime
    store = runtime.consent.policies
    actor = f"operator:{operator_id}"
    rendered = store.render_template(region, text if text is not None else changed_text(region))
    published = await store.do_publish(region, rendered, published_by=actor, actor=actor)
    assert published.created
    return published.policy.version, published.policy.version_hash


async def reconsent(
    http: httpx.AsyncClient, session: dict[str, str], **purposes: bool
) -> dict[str, Any]:
    """Consent to the current version of the user's policy (purposes as given)."""
    state = (await http.get("/v1/privacy/consent", headers=bearer(session))).json()
    body = {"version_hash": state["current_version_hash"], "purposes": purposes}
    response = await http.post("/v1/privacy/consent", json=body, headers=bearer(session))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result
