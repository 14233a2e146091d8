"""Policies and consent: read your region's policy and what changed, consent, give or withdraw
each purpose (docs/privacy-consent.md). Privacy mixes this in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from courtyard.client.consent_models import ConsentRecord, ConsentState, Policy, PolicyDiff
from courtyard.client.errors import ProtocolError

if TYPE_CHECKING:
    from courtyard.client.client import Client

T = TypeVar("T")


class PrivacyConsent:
    """Methods of ``client.privacy``."""

    client: Client

    async def policy_for(self, country: str) -> Policy:
        """The current policy for people registering with ``country`` (no sign-in needed):
        pass its ``version_hash`` and your purposes to ``Client.register``."""
        data = await self.client._call(
            "GET", "/v1/privacy/policy", params={"country": country}, authenticated=False
        )
        return _parse(Policy.from_wire, data)

    async def policy(self, region: str, version: int | None = None) -> Policy:
        """A policy region's (``CN``, ``EU``, ``default``) current text, or ``version``."""
        params = {"version": version} if version is not None else None
        data = await self.client._call(
            "GET", f"/v1/privacy/policies/{_segment(region)}", params=params, authenticated=False
        )
        return _parse(Policy.from_wire, data)

    async def diff(
        self, region: str, from_version: int, to_version: int | None = None
    ) -> PolicyDiff:
        """What changed from ``from_version`` to ``to_version`` (default: the current one)."""
        params: dict[str, str | int] = {"from": from_version}
        if to_version is not None:
            params["to"] = to_version
        data = await self.client._call(
            "GET", f"/v1/privacy/policies/{_segment(region)}/diff", params=params,
            authenticated=False,
        )  # fmt: skip
        return _parse(PolicyDiff.from_wire, data)

    async def consent_state(self) -> ConsentState:
        """The version you consented to, the current one, and each purpose."""
        return _parse(ConsentState.from_wire, await self.client._call("GET", "/v1/privacy/consent"))

    async def consent(
        self, version_hash: str, purposes: Mapping[str, bool] | None = None
    ) -> ConsentState:
        """Consent to the current version (its hash); purposes left out keep their value."""
        body = {"version_hash": version_hash, "purposes": dict(purposes or {})}
        data = await self.client._call("POST", "/v1/privacy/consent", json=body)
        return _parse(ConsentState.from_wire, data)

    async def set_purpose(self, purpose: str, granted: bool) -> ConsentState:
        """Give (``granted=True``) or withdraw one purpose."""
        data = await self.client._call(
            "PUT", f"/v1/privacy/purposes/{_segment(purpose)}", json={"granted": granted}
        )
        return _parse(ConsentState.from_wire, data)

    async def consent_records(self) -> list[ConsentRecord]:
        """Every consent you gave or withdrew, newest first."""
        data = await self.client._call("GET", "/v1/privacy/consent-records")
        return _parse(lambda d: [ConsentRecord.from_wire(r) for r in d["records"]], data)


def _segment(value: str) -> str:
    return quote(value, safe="")


def _parse(parse: Callable[[Any], T], data: Any) -> T:
    try:
        return parse(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProtocolError(f"malformed response: {exc!r}") from None
