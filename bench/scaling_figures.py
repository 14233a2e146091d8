"""The per-node figures the capacity model uses, read from a ``bench run`` results file.

Figures come from the PostgreSQL backend when the file has it, else from SQLite; a workload
missing there is taken from the other backend, and one missing from both from a stated
fallback. Every figure carries the words saying where it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BACKEND_PREFERENCE = ("postgresql", "sqlite")
# Used only when no backend in the file measured the workload (e.g. a `--only relay` run).
FALLBACK_RSS_PER_CONNECTION_KIB = 80.0
FALLBACK_BASE_RSS_MIB = 250.0


@dataclass(frozen=True)
class Point:
    """One relay point: a closed loop at a concurrency, or an open loop at an offered rate."""

    transport: str
    mode: str
    load: float
    delivered_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: float

    @property
    def label(self) -> str:
        if self.mode == "open":
            return f"open loop, {self.load:g} msg/s offered, {self.transport}"
        return f"closed loop, concurrency {self.load:g}, {self.transport}"


@dataclass(frozen=True)
class Figures:
    backend: str
    started_at: str
    command: str
    nproc: int | None
    best: Point  # the highest delivered rate with no errors
    points: tuple[Point, ...]  # every point of the best point's transport
    transport_inferred: bool  # the file predates the points' `transport` field
    delivery_cpu_ms: float  # server CPU per device copy beyond the relay's two
    delivery_source: str
    rss_per_connection_kib: float
    base_rss_mib: float
    connections_source: str
    idle_cpu_percent_per_connection: float
    idle_source: str


def _point(raw: dict[str, Any]) -> Point:
    return Point(
        # Files written before sends on the socket existed measured HTTP sends only.
        transport=str(raw.get("transport", "http")),
        mode=str(raw["mode"]),
        load=float(raw["rate"] if raw["mode"] == "open" else raw["concurrency"]),
        delivered_per_s=float(raw["delivered_per_s"]),
        p50_ms=float(raw.get("p50_ms") or 0.0),
        p99_ms=float(raw.get("p99_ms") or 0.0),
        errors=int(raw.get("errors") or 0),
        cpu_ms=float(raw.get("server_cpu_ms_per_msg") or 0.0),
    )


def _relay_points(backend: dict[str, Any]) -> list[Point]:
    relay = backend.get("relay")
    if not isinstance(relay, dict):
        return []
    return [_point(p) for p in relay.get("points", []) if p.get("delivered_per_s")]


def _ordered(report: dict[str, Any]) -> list[str]:
    names = list(report.get("backends", {}))
    preferred = [b for b in BACKEND_PREFERENCE if b in names]
    return preferred + [b for b in names if b not in preferred]


def _workload(report: dict[str, Any], first: str, name: str) -> tuple[str, dict[str, Any]] | None:
    """``name``'s results from backend ``first``, else from any other backend that has them."""
    backends = report.get("backends", {})
    for backend in [first, *(b for b in _ordered(report) if b != first)]:
        value = backends.get(backend, {}).get(name)
        if isinstance(value, dict) and "error" not in value:
            return backend, value
    return None


def best_point(points: list[Point]) -> Point:
    """The highest delivered rate among points that lost nothing (all points if none did)."""
    clean = [p for p in points if p.errors == 0 and p.cpu_ms > 0] or points
    return max(clean, key=lambda p: p.delivered_per_s)


def _from(backend: str, chosen: str) -> str:
    return f"{backend}" if backend == chosen else f"{backend} (not measured on {chosen})"


def _delivery(report: dict[str, Any], backend: str, best: Point) -> tuple[float, str]:
    found = _workload(report, backend, "fanout")
    rounds = [r for r in (found[1].get("rounds", []) if found else []) if r.get("devices_reached")]
    if found is None or not rounds:
        return best.cpu_ms / 2, (
            "no fan-out in this file: assumed half the relay's CPU per message (an upper "
            "bound: that half also carries the send)"
        )
    per_copy = sorted(r["server_cpu_ms"] / r["devices_reached"] for r in rounds)
    median = per_copy[len(per_copy) // 2]
    group = found[1].get("group_size", rounds[0]["devices_reached"])
    return median, (
        f"fan-out on {_from(found[0], backend)}: server CPU per device reached, median of "
        f"{len(rounds)} rounds to a {group}-member group"
    )


def _connections(report: dict[str, Any], backend: str) -> tuple[float, float, float, str, str]:
    found = _workload(report, backend, "connections")
    if found is None or not found[1].get("connected"):
        return (
            FALLBACK_RSS_PER_CONNECTION_KIB,
            FALLBACK_BASE_RSS_MIB,
            0.0,
            f"no connections workload in this file: assumed {FALLBACK_RSS_PER_CONNECTION_KIB:g}"
            f" KiB per socket over a {FALLBACK_BASE_RSS_MIB:g} MiB process",
            "not measured in this file: idle sockets' CPU is left out",
        )
    where, c = found
    connected = float(c["connected"])
    words = f"connections on {_from(where, backend)}, {int(connected):,} idle sockets"
    idle = (
        float(c["idle_server_cpu_percent"]) / connected if "idle_server_cpu_percent" in c else 0.0
    )
    idle_words = (
        f"{words}, server CPU over a {c.get('idle_window_s', '?')} s idle window"
        if "idle_server_cpu_percent" in c
        else "not in this file's connections workload: left out"
    )
    return float(c["rss_per_connection_kib"]), float(c["rss_before_mib"]), idle, words, idle_words


def figures_from_results(report: dict[str, Any]) -> Figures:
    """The figures of the preferred backend that measured the relay."""
    for backend in _ordered(report):
        points = _relay_points(report["backends"][backend])
        if points:
            break
    else:
        raise ValueError("the results file has no relay points on any backend")
    best = best_point(points)
    if best.cpu_ms <= 0:
        raise ValueError("the relay points carry no server CPU per message")
    delivery_ms, delivery_words = _delivery(report, backend, best)
    rss, base, idle, conn_words, idle_words = _connections(report, backend)
    meta = report.get("meta", {})
    return Figures(
        backend=backend,
        started_at=str(meta.get("started_at", "unknown")),
        command=str(meta.get("command", "unknown")),
        nproc=meta.get("machine", {}).get("nproc"),
        best=best,
        points=tuple(p for p in points if p.transport == best.transport),
        transport_inferred=any(
            "transport" not in p for p in report["backends"][backend]["relay"]["points"]
        ),
        delivery_cpu_ms=delivery_ms,
        delivery_source=delivery_words,
        rss_per_connection_kib=rss,
        base_rss_mib=base,
        connections_source=conn_words,
        idle_cpu_percent_per_connection=idle,
        idle_source=idle_words,
    )
