"""``courtyard demo``'s seed: the demo accounts once, and the two demo billers only while
the server has no billers at all."""

from __future__ import annotations

from sqlalchemy import select

from courtyard.cli.demo import seed
from courtyard.core.config import Settings
from courtyard.db import Database
from courtyard.domains.wallet.commerce_models import Biller


async def billers(settings: Settings) -> list[tuple[str, str, bool]]:
    db = Database(settings.database_url)
    try:
        async with db.read() as session:
            rows = await session.scalars(select(Biller).order_by(Biller.name))
            return [(b.name, b.category, b.enabled) for b in rows]
    finally:
        await db.dispose()


async def test_the_demo_seeds_accounts_and_billers_once(settings: Settings) -> None:
    first = await seed(settings)
    assert first == ["alice", "bob", "City Power", "Courtyard Mobile"]
    assert await billers(settings) == [
        ("City Power", "utilities", True),
        ("Courtyard Mobile", "phone", True),
    ]
    assert await seed(settings) == []
    assert len(await billers(settings)) == 2
