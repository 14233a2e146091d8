"""Send and receive timestamps matched by message id, and the statistics drawn from them."""

from __future__ import annotations

import statistics
import time
from typing import Any


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (nearest rank) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


class Recorder:
    """When each message's send started and when the receiving socket first got it."""

    def __init__(self) -> None:
        self.sent: dict[str, float] = {}
        self.received: dict[str, float] = {}
        self.errors = 0

    def on_sent(self, message_id: str, started: float) -> None:
        self.sent[message_id] = started

    def on_received(self, message_id: str) -> None:
        self.received.setdefault(message_id, time.perf_counter())

    def delivered(self) -> int:
        return sum(1 for key in self.sent if key in self.received)

    def summary(self, started: float) -> dict[str, Any]:
        """Counts, delivered msgs/s over [start, last delivery], and latency percentiles (ms)."""
        latencies = [
            (self.received[key] - at) * 1000
            for key, at in self.sent.items()
            if key in self.received
        ]
        last = max((self.received[key] for key in self.sent if key in self.received), default=0.0)
        elapsed = last - started if latencies else 0.0
        return {
            "sent": len(self.sent),
            "delivered": len(latencies),
            "errors": self.errors,
            "elapsed_s": round(elapsed, 3),
            "delivered_per_s": round(len(latencies) / elapsed, 1) if elapsed > 0 else 0.0,
            "p50_ms": _round(percentile(latencies, 50)),
            "p95_ms": _round(percentile(latencies, 95)),
            "p99_ms": _round(percentile(latencies, 99)),
            "max_ms": _round(max(latencies, default=None)),
            "mean_ms": _round(statistics.fmean(latencies) if latencies else None),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
