"""Stored policy versions: reading them, publishing a new one (by the system at start or by an
operator), and each node's short-lived cache of the current versions
(docs/privacy-consent.md, "Publishing")."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.clock import Clock
from courtyard.core.errors import Unavailable
from courtyard.core.regions import POLICY_REGIONS
from courtyard.db import Database
from courtyard.domains.audit import append_audit_entry
from courtyard.domains.privacy.consent_errors import PolicyNotFound
from courtyard.domains.privacy.models import PrivacyPolicy
from courtyard.domains.privacy.policy_texts import (
    DataSection,
    RenderedPolicy,
    ordered_purposes,
    parse_template,
    policy_diff,
    refresh_generated,
    render_policy,
    shipped_template,
)

SYSTEM = "system"
CURRENT_TTL_SECONDS = 5.0  # a version published on another node applies here within this
PUBLISH_ATTEMPTS = 5


@dataclass(frozen=True)
class PolicyHead:
    """The current version of one policy region, as the consent gate needs it."""

    policy_region: str
    version: int
    version_hash: str
    purposes: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Published:
    """The outcome of a publication: the version now current, and whether it is new."""

    policy: PrivacyPolicy
    created: bool


class CurrentPolicies:
    """The current version of each policy region, re-read at most every few seconds."""

    def __init__(self, db: Database, ttl: float = CURRENT_TTL_SECONDS) -> None:
        self.db = db
        self.ttl = ttl
        self.monotonic: Callable[[], float] = time.monotonic  # tests move it on
        self._heads: dict[str, PolicyHead] = {}
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self, policy_region: str) -> PolicyHead:
        """The current version of ``policy_region``; ``Unavailable`` if none is published."""
        heads = await self.all()
        head = heads.get(policy_region)
        if head is None:
            raise Unavailable("no privacy policy is published for this region yet")
        return head

    async def all(self) -> dict[str, PolicyHead]:
        if self.monotonic() - self._loaded_at < self.ttl:
            return self._heads
        async with self._lock:  # one reload at a time; the others take its result
            if self.monotonic() - self._loaded_at >= self.ttl:
                async with self.db.read() as session:
                    self._heads = await load_heads(session)
                self._loaded_at = self.monotonic()
        return self._heads

    def invalidate(self) -> None:
        """Forget the cache (after this node published, or met a newer consented version)."""
        self._loaded_at = float("-inf")


async def load_heads(session: AsyncSession) -> dict[str, PolicyHead]:
    newest = (
        select(PrivacyPolicy.policy_region, func.max(PrivacyPolicy.version).label("version"))
        .group_by(PrivacyPolicy.policy_region)
        .subquery()
    )
    rows = await session.execute(
        select(
            PrivacyPolicy.policy_region, PrivacyPolicy.version, PrivacyPolicy.version_hash,
            PrivacyPolicy.purposes,
        ).join(
            newest,
            (newest.c.policy_region == PrivacyPolicy.policy_region)
            & (newest.c.version == PrivacyPolicy.version),
        )
    )  # fmt: skip
    return {
        row.policy_region: PolicyHead(
            row.policy_region, row.version, row.version_hash, ordered_purposes(row.purposes)
        )
        for row in rows
    }


async def get_latest_policy(session: AsyncSession, policy_region: str) -> PrivacyPolicy | None:
    """The newest stored version of ``policy_region`` (None if there is none)."""
    policy: PrivacyPolicy | None = await session.scalar(
        select(PrivacyPolicy)
        .where(PrivacyPolicy.policy_region == policy_region)
        .order_by(PrivacyPolicy.version.desc())
        .limit(1)
    )
    return policy


class PolicyStore:
    """Reads and publications of policy versions."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        current: CurrentPolicies,
        *,
        hosting_country: str,
        data_section: DataSection,
    ) -> None:
        self.db = db
        self.clock = clock
        self.current = current
        self.hosting_country = hosting_country
        self.data_section = data_section

    # --- reads --------------------------------------------------------------------------

    async def access_policy(self, policy_region: str, version: int | None = None) -> PrivacyPolicy:
        """One version of a region's policy (default: the newest); ``PolicyNotFound``."""
        async with self.db.read() as session:
            if version is None:
                policy = await get_latest_policy(session, policy_region)
            else:
                policy = await session.get(PrivacyPolicy, (policy_region, version))
        if policy is None:
            raise PolicyNotFound()
        return policy

    async def get_versions(self, policy_region: str | None = None) -> list[PrivacyPolicy]:
        """Every stored version (of one region), region by region, newest first."""
        query = select(PrivacyPolicy).order_by(
            PrivacyPolicy.policy_region, PrivacyPolicy.version.desc()
        )
        if policy_region is not None:
            query = query.where(PrivacyPolicy.policy_region == policy_region)
        async with self.db.read() as session:
            return list(await session.scalars(query))

    async def get_diff(
        self, policy_region: str, from_version: int, to_version: int | None = None
    ) -> tuple[PrivacyPolicy, PrivacyPolicy, list[str]]:
        """The two versions and the unified diff from the first to the second (default: the
        current version)."""
        old = await self.access_policy(policy_region, from_version)
        new = await self.access_policy(policy_region, to_version)
        lines = policy_diff(
            old.body, new.body,
            old_label=f"{policy_region} version {old.version}",
            new_label=f"{policy_region} version {new.version}",
        )  # fmt: skip
        return old, new, lines

    # --- publishing ---------------------------------------------------------------------

    def render_template(self, policy_region: str, text: str | None = None) -> RenderedPolicy:
        """Render an operator's template text, or the shipped one, for this deployment."""
        template = parse_template(text) if text is not None else shipped_template(policy_region)
        return render_policy(
            template, policy_region,
            hosting_country=self.hosting_country, data_section=self.data_section,
        )  # fmt: skip

    async def do_publish(
        self, policy_region: str, rendered: RenderedPolicy, *, published_by: str, actor: str
    ) -> Published:
        """Store ``rendered`` as the next version unless it equals the current one, with its
        audit entry. Safe against another node publishing at the same moment: the loser of
        the race for the version number looks again."""
        for _attempt in range(PUBLISH_ATTEMPTS):
            try:
                published = await self._publish_once(policy_region, rendered, published_by, actor)
            except IntegrityError:
                continue  # someone stored this version number first; compare with theirs
            if published.created:
                self.current.invalidate()
            return published
        raise Unavailable("the policy could not be published; try again")

    async def do_publish_at_start(self) -> list[Published]:
        """Publish each region's active text if it changed (docs: "Publishing", at start)."""
        results = []
        for policy_region in POLICY_REGIONS:
            rendered, published_by = await self._active_text(policy_region)
            results.append(
                await self.do_publish(
                    policy_region, rendered, published_by=published_by, actor=SYSTEM
                )
            )
        return results

    async def _active_text(self, policy_region: str) -> tuple[RenderedPolicy, str]:
        """The shipped text, or the latest operator's text with fresh generated sections."""
        async with self.db.read() as session:
            latest = await get_latest_policy(session, policy_region)
        if latest is None or latest.published_by == SYSTEM:
            return self.render_template(policy_region), SYSTEM
        body = refresh_generated(latest.body, policy_region, latest.purposes, self.data_section)
        origin = latest.published_by.removeprefix(f"{SYSTEM}:")
        return RenderedPolicy(latest.title, body, dict(latest.purposes)), f"{SYSTEM}:{origin}"

    async def _publish_once(
        self, policy_region: str, rendered: RenderedPolicy, published_by: str, actor: str
    ) -> Published:
        async with self.db.transaction() as tx:
            latest = await get_latest_policy(tx.session, policy_region)
            if latest is not None and latest.version_hash == rendered.version_hash:
                return Published(latest, created=False)
            policy = PrivacyPolicy(
                policy_region=policy_region,
                version=(latest.version if latest else 0) + 1,
                version_hash=rendered.version_hash,
                title=rendered.title[:200],
                body=rendered.body,
                purposes=rendered.purposes,
                published_at=self.clock.now(),
                published_by=published_by[:64],
            )
            tx.session.add(policy)
            await tx.session.flush()
            await append_audit_entry(
                tx, self.clock, actor=actor, action="privacy.policy.publish",
                target=f"policy:{policy_region}/{policy.version}",
                detail={"version_hash": policy.version_hash, "published_by": published_by},
            )  # fmt: skip
        return Published(policy, created=True)
