"""``docs/benchmarks-latency.png``: p50 and p99 latency against offered load, per backend.

One panel per backend; Courtyard's relay (one line per send transport it measured) and
Synapse's, each as p50 and p99 over the open-loop points, on a log latency axis. matplotlib
comes from the ``bench`` (or ``dev``) extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.compare import HTTP, transport

SERIES = (("relay", "Courtyard", ("tab:blue", "tab:green")), ("synapse", "Synapse", ("tab:red",)))
PERCENTILES = (("p50_ms", "p50", "-", "o"), ("p99_ms", "p99", "--", "s"))


def open_series(workload: dict[str, Any] | None, key: str) -> dict[str, list[tuple[float, float]]]:
    """(offered rate, latency) of a workload's open-loop points that have ``key``, by transport."""
    series: dict[str, list[tuple[float, float]]] = {}
    for p in (workload or {}).get("points", []):
        if p["mode"] == "open" and p.get(key) is not None:
            series.setdefault(transport(p), []).append((float(p["rate"]), float(p[key])))
    return {name: sorted(points) for name, points in sorted(series.items())}


def _draw(ax: Any, figures: dict[str, Any]) -> set[float]:
    """Plot every series of one backend on ``ax``; returns the offered rates drawn."""
    rates: set[float] = set()
    for workload, label, colours in SERIES:
        for key, name, style, marker in PERCENTILES:
            by_transport = open_series(figures.get(workload), key)
            for index, (sent_over, points) in enumerate(by_transport.items()):
                named = len(by_transport) > 1 or sent_over != HTTP
                suffix = f" ({sent_over})" if named else ""
                ax.plot(
                    [r for r, _ in points], [ms for _, ms in points], style, marker=marker,
                    color=colours[index % len(colours)], label=f"{label}{suffix} {name}",
                )  # fmt: skip
                rates.update(r for r, _ in points)
    return rates


def latency_plot(result: dict[str, Any], path: Path) -> bool:
    """Draw the figure into ``path`` (PNG); False when the results have no open-loop point."""
    import matplotlib

    matplotlib.use("Agg")  # no display: file output only
    from matplotlib import pyplot
    from matplotlib.ticker import FuncFormatter, NullFormatter

    plain = FuncFormatter(lambda value, _position: f"{value:g}")
    backends = [
        name for name, figures in result["backends"].items()
        if any(open_series(figures.get(w), "p50_ms") for w, _, _ in SERIES)
    ]  # fmt: skip
    if not backends:
        return False
    figure, axes = pyplot.subplots(
        1, len(backends), figsize=(6.4 * len(backends), 4.8), squeeze=False, sharey=True
    )
    for ax, backend in zip(axes[0], backends, strict=True):
        rates = _draw(ax, result["backends"][backend])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(sorted(rates))
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_formatter(plain)
        ax.set_title(f"{backend}: send → receive latency, open loop")
        ax.set_xlabel("offered load (msg/s)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    axes[0][0].set_ylabel("latency (ms, log scale)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return True
