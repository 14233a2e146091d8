"""Courtyard against Synapse: the per-concurrency ratios the report and the targets share.

Courtyard's relay may measure more than one send transport (``"transport"`` on a point:
``http``, or ``socket`` for sends on the sync socket); a point without one is HTTP, and so is
every Synapse send. Each Courtyard transport is set against Synapse at the same concurrency.
"""

from __future__ import annotations

from typing import Any

HTTP = "http"


def transport(point: dict[str, Any]) -> str:
    return str(point.get("transport", HTTP))


def closed_points(workload: dict[str, Any] | None) -> dict[tuple[str, int], dict[str, Any]]:
    """A workload's closed-loop points by (transport, concurrency); empty when it did not run."""
    if not workload or "points" not in workload:
        return {}
    return {
        (transport(p), p["concurrency"]): p for p in workload["points"] if p["mode"] == "closed"
    }


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 2)


def ratios(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per Courtyard transport and concurrency that Synapse also ran on this backend.

    ``throughput_ratio`` is Courtyard's msgs/s over Synapse's; ``cpu_ratio`` is Synapse's CPU
    per message over Courtyard's, so above 1 means Courtyard is cheaper on both.
    """
    ours = closed_points(figures.get("relay"))
    theirs = {c: p for (_, c), p in closed_points(figures.get("synapse")).items()}
    rows = []
    for (sent_over, concurrency), c in sorted(ours.items()):
        s = theirs.get(concurrency)
        if s is None:
            continue
        rows.append({
            "transport": sent_over,
            "concurrency": concurrency,
            "courtyard_per_s": c["delivered_per_s"],
            "synapse_per_s": s["delivered_per_s"],
            "throughput_ratio": _ratio(c["delivered_per_s"], s["delivered_per_s"]),
            "courtyard_cpu_ms": c["server_cpu_ms_per_msg"],
            "synapse_cpu_ms": s["server_cpu_ms_per_msg"],
            "cpu_ratio": _ratio(s["server_cpu_ms_per_msg"], c["server_cpu_ms_per_msg"]),
        })  # fmt: skip
    return rows
