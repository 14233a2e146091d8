"""How big and how long each workload runs: ``--quick`` and the full profile."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bench.driver import Bounds


@dataclass(frozen=True)
class Profile:
    name: str
    pairs: int  # relay: K 1:1 conversations, M = 2K devices
    concurrencies: tuple[int, ...]
    rates: tuple[int, ...]
    bounds: Bounds
    warmup_messages: int
    repeats: int
    connections: int
    devices_per_user: int  # connections: each user signs in this many devices
    idle_window_s: float
    group_size: int
    fanout_rounds: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


QUICK = Profile(
    name="quick", pairs=16, concurrencies=(1, 16, 64), rates=(10, 25, 100, 500, 1000, 2000),
    bounds=Bounds(duration_s=2.0, max_messages=4000, drain_s=3.0), warmup_messages=300,
    repeats=1, connections=2000, devices_per_user=4, idle_window_s=5.0, group_size=500,
    fanout_rounds=3,
)  # fmt: skip

FULL = Profile(
    name="full", pairs=64, concurrencies=(1, 16, 64), rates=(10, 25, 100, 500, 1000, 2000),
    bounds=Bounds(duration_s=5.0, max_messages=10_000, drain_s=5.0), warmup_messages=1000,
    repeats=3, connections=20_000, devices_per_user=4, idle_window_s=15.0, group_size=500,
    fanout_rounds=5,
)  # fmt: skip
