"""Consent: at registration, to a new policy version, and to each purpose; the state a user
sees and the records kept as evidence (docs/privacy-consent.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.clock import Clock
from courtyard.core.ids import new_id
from courtyard.core.regions import POLICY_REGIONS, is_country_code, policy_region
from courtyard.db import Database, Tx
from courtyard.domains.accounts import Identity
from courtyard.domains.privacy.consent_errors import (
    ConsentRequired,
    InvalidCountry,
    PolicyNotFound,
    PolicyOutdated,
    PurposeNotFound,
    PurposeRequired,
    UnknownPurpose,
)
from courtyard.domains.privacy.consent_gate import ConsentGate, HeldConsent, Scope, load_held
from courtyard.domains.privacy.datamap_text import render_data_section
from courtyard.domains.privacy.models import (
    ConsentRecord,
    PrivacyPolicy,
    PurposeConsent,
    UserConsent,
)
from courtyard.domains.privacy.policy_store import (
    CurrentPolicies,
    PolicyStore,
    get_latest_policy,
)
from courtyard.domains.privacy.policy_texts import DataSection, ordered_purposes
from courtyard.streams import StreamStore

CONSENT_EVENT = "privacy.consent"
MAX_RECORDS = 500


@dataclass(frozen=True)
class PurposeState:
    purpose: str
    label: str
    gates: str
    required: bool
    granted: bool


@dataclass(frozen=True)
class ConsentState:
    """Where a user stands: what they consented to, what is current, and each purpose."""

    policy_region: str
    consented_version: int | None
    consented_version_hash: str | None
    consented_at: dt.datetime | None
    current_version: int
    current_version_hash: str
    needs_reconsent: bool
    service_usable: bool
    wallet_usable: bool
    purposes: list[PurposeState]


class ConsentService:
    """Policies (``policies``), the gate (``gate``) and each user's consent."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        streams: StreamStore,
        *,
        hosting_country: str = "",
        data_section: DataSection = render_data_section,
    ) -> None:
        self.db = db
        self.clock = clock
        self.streams = streams
        self.current = CurrentPolicies(db)
        self.policies = PolicyStore(
            db, clock, self.current, hosting_country=hosting_country, data_section=data_section
        )
        self.gate = ConsentGate(db, self.current)

    # --- reading policies ---------------------------------------------------------------

    async def access_policy(self, region: str, version: int | None = None) -> PrivacyPolicy:
        """A version of a policy region's text (default: current); ``PolicyNotFound``."""
        return await self.policies.access_policy(_policy_region_named(region), version)

    async def access_policy_for_country(self, country: str) -> PrivacyPolicy:
        """The current policy for users registering with ``country``."""
        if not is_country_code(country.upper()):
            raise InvalidCountry()
        return await self.policies.access_policy(policy_region(country))

    async def get_diff(
        self, region: str, from_version: int, to_version: int | None = None
    ) -> tuple[PrivacyPolicy, PrivacyPolicy, list[str]]:
        """Two versions of a region's text and the unified diff between them."""
        return await self.policies.get_diff(_policy_region_named(region), from_version, to_version)

    # --- registration (accounts' RegistrationConsent) -----------------------------------

    async def check_registration(
        self, region: str, policy_version_hash: str, purposes: Mapping[str, bool]
    ) -> None:
        """Refuse a registration whose consent names another version or lacks a purpose."""
        async with self.db.read() as session:
            policy = await _current_policy(session, policy_region(region))
        _choices(policy, policy_version_hash, purposes, {})

    async def record_registration(
        self,
        tx: Tx,
        *,
        user_id: str,
        device_id: str,
        region: str,
        policy_version_hash: str,
        purposes: Mapping[str, bool],
    ) -> None:
        """Record the new account's consent in the registration's transaction."""
        policy = await _current_policy(tx.session, policy_region(region))
        granted = _choices(policy, policy_version_hash, purposes, {})
        fresh = HeldConsent(policy.policy_region, 0)
        await self._record(tx, user_id, device_id, policy, granted, fresh)

    # --- the user's consent -------------------------------------------------------------

    async def get_state(self, identity: Identity) -> ConsentState:
        """The user's consent against the current version of their policy region."""
        async with self.db.read() as session:
            held = await load_held(session, identity.user_id)
        head = await self.gate.head_for(held)
        purposes = [
            PurposeState(
                name, p["label"], p["gates"], bool(p.get("required")), held.granted.get(name, False)
            )
            for name, p in head.purposes.items()
        ]
        return ConsentState(
            policy_region=held.policy_region,
            consented_version=held.policy_version or None,
            consented_version_hash=held.version_hash,
            consented_at=held.consented_at,
            current_version=head.version,
            current_version_hash=head.version_hash,
            needs_reconsent=held.policy_version != head.version,
            service_usable=await _passes(self.gate, held, "all"),
            wallet_usable=await _passes(self.gate, held, "wallet"),
            purposes=purposes,
        )

    async def do_consent(
        self, identity: Identity, version_hash: str, purposes: Mapping[str, bool]
    ) -> ConsentState:
        """Consent to the current version; purposes left out keep their value."""
        async with self.db.transaction() as tx:
            held = await load_held(tx.session, identity.user_id)
            policy = await _current_policy(tx.session, held.policy_region)
            granted = _choices(policy, version_hash, purposes, held.granted)
            await self._record(tx, identity.user_id, identity.device_id, policy, granted, held)
        return await self.get_state(identity)

    async def do_set_purpose(self, identity: Identity, purpose: str, granted: bool) -> ConsentState:
        """Give or withdraw one purpose of the user's current policy (a no-op if unchanged)."""
        async with self.db.transaction() as tx:
            held = await load_held(tx.session, identity.user_id)
            policy = await _current_policy(tx.session, held.policy_region)
            if purpose not in policy.purposes:
                raise PurposeNotFound()
            if held.granted.get(purpose, False) != granted:
                at = self.clock.now()
                await _set_purpose(tx.session, identity.user_id, purpose, granted, at)
                tx.session.add(
                    _record_row(
                        identity, policy, at, kind="purpose", purpose=purpose, granted=granted
                    )
                )
                await self._tell_devices(
                    tx, identity.user_id, held.policy_region, held.policy_version,
                    {**held.granted, purpose: granted},
                )  # fmt: skip
        return await self.get_state(identity)

    async def get_records(
        self, identity: Identity, limit: int = MAX_RECORDS
    ) -> list[ConsentRecord]:
        """The user's consent records, newest first."""
        async with self.db.read() as session:
            rows = await session.scalars(
                select(ConsentRecord)
                .where(ConsentRecord.user_id == identity.user_id)
                .order_by(ConsentRecord.at.desc(), ConsentRecord.record_id.desc())
                .limit(limit)
            )
            return list(rows)

    # --- internals ----------------------------------------------------------------------

    async def _record(
        self,
        tx: Tx,
        user_id: str,
        device_id: str,
        policy: PrivacyPolicy,
        granted: dict[str, bool],
        held: HeldConsent,
    ) -> None:
        """Store a consent to ``policy`` with every purpose's choice, and its records."""
        at, session = self.clock.now(), tx.session
        consent = await session.get(UserConsent, user_id, with_for_update=True)
        if consent is None:
            consent = UserConsent(user_id=user_id)
            session.add(consent)
        consent.policy_region = policy.policy_region
        consent.policy_version = policy.version
        consent.version_hash = policy.version_hash
        consent.consented_at = at
        consent.device_id = device_id
        who = Identity(user_id=user_id, device_id=device_id)
        session.add(_record_row(who, policy, at, kind="policy", purpose=None, granted=True))
        for name, value in granted.items():
            await _set_purpose(session, user_id, name, value, at)
            session.add(_record_row(who, policy, at, kind="purpose", purpose=name, granted=value))
        await session.flush()
        if held.policy_version:  # not at registration: the new account has no devices to tell
            await self._tell_devices(tx, user_id, policy.policy_region, policy.version, granted)

    async def _tell_devices(
        self, tx: Tx, user_id: str, region: str, version: int, granted: Mapping[str, bool]
    ) -> None:
        content: dict[str, Any] = {
            "policy_region": region, "policy_version": version, "purposes": dict(granted),
        }  # fmt: skip
        await self.streams.append(tx, user_id, CONSENT_EVENT, content)


def _policy_region_named(name: str) -> str:
    """``cn``, ``EU``, ``default`` … as the policy region it names; ``PolicyNotFound``."""
    for region in POLICY_REGIONS:
        if name.lower() == region.lower():
            return region
    raise PolicyNotFound("no such policy region (CN, EU or default)")


async def _current_policy(session: AsyncSession, region: str) -> PrivacyPolicy:
    policy = await get_latest_policy(session, region)
    if policy is None:
        raise PolicyNotFound("no privacy policy is published for this region yet")
    return policy


def _choices(
    policy: PrivacyPolicy,
    version_hash: str | None,
    purposes: Mapping[str, bool],
    held: Mapping[str, bool],
) -> dict[str, bool]:
    """Every purpose's value after this consent; refuse another version, an unknown purpose
    or a required purpose not granted."""
    if version_hash != policy.version_hash:
        raise PolicyOutdated(
            f"the current {policy.policy_region} policy is version {policy.version}",
            policy_region=policy.policy_region,
            current_version=policy.version,
            current_version_hash=policy.version_hash,
        )
    if unknown := sorted(set(purposes) - set(policy.purposes)):
        raise UnknownPurpose(f"this policy does not ask for {', '.join(unknown)}")
    asked = ordered_purposes(policy.purposes)
    granted = {name: bool(purposes.get(name, held.get(name, False))) for name in asked}
    for name, spec in asked.items():
        if spec.get("required") and not granted[name]:
            raise PurposeRequired(f"the purpose {name!r} is required", purpose=name)
    return granted


async def _set_purpose(
    session: AsyncSession, user_id: str, purpose: str, granted: bool, at: dt.datetime
) -> None:
    row = await session.get(PurposeConsent, (user_id, purpose), with_for_update=True)
    if row is None:
        session.add(
            PurposeConsent(user_id=user_id, purpose=purpose, granted=granted, updated_at=at)
        )
    elif row.granted != granted:
        row.granted, row.updated_at = granted, at


def _record_row(
    identity: Identity,
    policy: PrivacyPolicy,
    at: dt.datetime,
    *,
    kind: str,
    purpose: str | None,
    granted: bool,
) -> ConsentRecord:
    return ConsentRecord(
        user_id=identity.user_id, record_id=new_id(), kind=kind,
        policy_region=policy.policy_region, policy_version=policy.version,
        version_hash=policy.version_hash, purpose=purpose, granted=granted,
        device_id=identity.device_id, at=at,
    )  # fmt: skip


async def _passes(gate: ConsentGate, held: HeldConsent, scope: Scope) -> bool:
    try:
        await gate.judge(held, scope)
    except ConsentRequired:
        return False
    return True
