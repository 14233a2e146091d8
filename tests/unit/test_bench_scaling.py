"""The capacity model (bench/scaling*.py): counts follow from the inputs; the doc has its parts."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest
from bench.__main__ import main as bench_main
from bench.scaling import ASSUMPTIONS, Assumptions, Sizing, size
from bench.scaling_doc import REGENERATE, markdown
from bench.scaling_figures import figures_from_results
from bench.scaling_wire import WireSizes, measure_wire_sizes

WIRE = WireSizes(envelope=700, stream_content=1000, hint=1200, frame=1250, plaintext=300,
                 reference=60)  # fmt: skip
STARTED = "2030-01-02T03:04:05+00:00"


def _point(delivered: float, cpu_ms: float, **extra: Any) -> dict[str, Any]:
    point = {"transport": "socket", "mode": "closed", "concurrency": 64, "errors": 0,
             "delivered_per_s": delivered, "p50_ms": 20.0, "p99_ms": 80.0,
             "server_cpu_ms_per_msg": cpu_ms, "server_peak_rss_mib": 200.0}  # fmt: skip
    point.update(extra)
    return point


def _results(
    delivered: float = 1000.0,
    cpu_ms: float = 0.8,
    *,
    rss_kib: float = 100.0,
    idle_percent: float = 0.0,
    fanout_ms: float | None = 100.0,
) -> dict[str, Any]:
    """A results file with one backend: a relay, idle connections and a 500-member fan-out."""
    backend: dict[str, Any] = {
        "relay": {"points": [
            _point(delivered / 4, cpu_ms * 2, concurrency=1),
            _point(delivered, cpu_ms),
            _point(delivered / 2, cpu_ms, mode="open", rate=delivered / 2, p99_ms=100.0),
        ]},
        "connections": {"connected": 1000, "rss_before_mib": 112.0,
                        "rss_per_connection_kib": rss_kib, "idle_server_cpu_percent": idle_percent,
                        "idle_window_s": 5.0},
    }  # fmt: skip
    if fanout_ms is not None:
        backend["fanout"] = {
            "group_size": 500,
            "rounds": [{"devices_reached": 500, "server_cpu_ms": fanout_ms}] * 3,
        }
    meta = {"started_at": STARTED, "command": "bench run", "machine": {"nproc": 2}}
    return {"meta": meta, "backends": {"sqlite": backend}}


def _size(report: dict[str, Any], a: Assumptions = ASSUMPTIONS) -> Sizing:
    return size(figures_from_results(report), WIRE, a)


def test_doubling_per_node_throughput_halves_message_bound_nodes() -> None:
    base = _size(_results(delivered=1000.0, cpu_ms=0.8)).nodes
    # The same core doing everything in half the CPU time: sends and further copies alike.
    faster = _size(_results(delivered=2000.0, cpu_ms=0.4, fanout_ms=50.0)).nodes
    assert faster.message_nodes == pytest.approx(base.message_nodes / 2)
    # The same CPU per message, on a node that used twice the cores to deliver twice as many.
    busier = _size(_results(delivered=2000.0, cpu_ms=0.8)).nodes
    assert busier.message_nodes == pytest.approx(base.message_nodes / 2)


def test_message_bound_nodes_follow_peak_rate_and_cost_per_message() -> None:
    a = dataclasses.replace(ASSUMPTIONS, direct_share=1.0, devices_per_user=1.0)
    s = _size(_results(delivered=1000.0, cpu_ms=0.8), a)
    # Only 1:1 messages to one device each: exactly the relay's shape, 0.8 ms a message.
    assert s.nodes.cost_ms == pytest.approx(0.8)
    cores = 1000.0 * 0.8 / 1000
    expected = s.traffic.peak_messages_s * 0.8 / 1000 / (cores * a.cpu_headroom)
    assert s.nodes.message_nodes == pytest.approx(expected)


def test_further_device_copies_cost_the_fanout_cpu_per_device() -> None:
    s = _size(_results(cpu_ms=0.8, fanout_ms=100.0))  # 0.2 ms per device reached
    extra = s.traffic.device_copies - 2
    assert s.figures.delivery_cpu_ms == pytest.approx(0.2)
    assert s.nodes.cost_ms == pytest.approx(0.8 + extra * 0.2)


def test_without_a_fanout_a_device_copy_is_assumed_half_a_relayed_message() -> None:
    figures = figures_from_results(_results(cpu_ms=0.8, fanout_ms=None))
    assert figures.delivery_cpu_ms == pytest.approx(0.4)
    assert "no fan-out" in figures.delivery_source


def test_memory_bound_nodes_are_sockets_over_what_fits_beside_the_base_rss() -> None:
    a = dataclasses.replace(ASSUMPTIONS, node_memory_mib=1024, memory_usable=0.5)
    s = _size(_results(rss_kib=100.0), a)
    per_node = (1024 * 0.5 - 112.0) * 1024 / 100.0
    assert s.nodes.connections_per_node == pytest.approx(per_node)
    assert s.nodes.memory_nodes == pytest.approx(s.traffic.connections / per_node)
    doubled = _size(_results(rss_kib=200.0), a)
    assert doubled.nodes.memory_nodes == pytest.approx(2 * s.nodes.memory_nodes)


def test_node_count_is_the_larger_bound_rounded_up() -> None:
    s = _size(_results(rss_kib=2000.0))
    n = s.nodes
    assert n.bound == "memory"
    assert n.memory_nodes > n.message_nodes + n.idle_nodes
    assert n.nodes == math.ceil(n.memory_nodes)
    assert n.machines == math.ceil(n.nodes / s.assumptions.nodes_per_machine)


def test_idle_socket_cpu_adds_to_message_cpu() -> None:
    quiet = _size(_results(idle_percent=0.0)).nodes
    busy = _size(_results(idle_percent=10.0)).nodes  # 10 % of a core per 1,000 sockets
    cores = 1000.0 * 0.8 / 1000
    t = _size(_results()).traffic
    assert quiet.idle_nodes == 0
    assert busy.idle_nodes == pytest.approx(t.connections * 0.01 / 100 / (cores * 0.5))
    assert busy.message_nodes == pytest.approx(quiet.message_nodes)


def test_best_point_skips_points_that_lost_messages() -> None:
    report = _results(delivered=1000.0)
    report["backends"]["sqlite"]["relay"]["points"].append(
        _point(5000.0, 0.1, mode="open", rate=8000, errors=12)
    )
    assert figures_from_results(report).best.delivered_per_s == 1000.0


def test_figures_prefer_postgresql_and_take_missing_workloads_from_sqlite() -> None:
    report = _results()
    report["backends"]["postgresql"] = {"relay": {"points": [_point(3000.0, 0.3)]}}
    figures = figures_from_results(report)
    assert figures.backend == "postgresql"
    assert figures.best.delivered_per_s == 3000.0
    assert "sqlite (not measured on postgresql)" in figures.connections_source


def test_old_results_without_transport_count_as_http_sends() -> None:
    report = _results()
    for point in report["backends"]["sqlite"]["relay"]["points"]:
        del point["transport"]
    figures = figures_from_results(report)
    assert figures.best.transport == "http"
    assert figures.transport_inferred


def test_database_rows_and_storage_scale_with_messages_per_user() -> None:
    base = _size(_results())
    double = _size(_results(), dataclasses.replace(ASSUMPTIONS, messages_per_dau=70))
    assert double.database.peak_row_writes_s == pytest.approx(2 * base.database.peak_row_writes_s)
    assert double.storage.database_day == pytest.approx(2 * base.storage.database_day)
    assert double.nats.hints_s == pytest.approx(2 * base.nats.hints_s)


def test_shards_are_a_power_of_two_with_room_to_grow() -> None:
    d = _size(_results()).database
    assert d.shards & (d.shards - 1) == 0
    assert d.shards >= d.workers * ASSUMPTIONS.shard_growth
    assert d.workers >= math.ceil(max(d.workers_by_writes, d.workers_by_storage))


def test_nats_servers_come_in_clusters_of_bounded_size() -> None:
    q = _size(_results()).nats
    assert ASSUMPTIONS.nats_min_servers <= q.servers_per_cluster <= ASSUMPTIONS.nats_max_servers
    assert q.servers >= q.servers_needed


def test_markdown_has_every_section_and_names_its_run() -> None:
    text = markdown(_results(), wire=WIRE)
    assert f"Regenerate: `{REGENERATE}`" in text
    assert STARTED in text
    assert "**sqlite** backend" in text
    for heading in (
        "## Assumptions", "## Per-node figures used", "## Derived sizing", "### Traffic",
        "### `courtyard serve` nodes", "### PostgreSQL / Citus", "### NATS",
        "### Storage per day", "## What would break first", "## What is not modelled",
    ):  # fmt: skip
        assert f"\n{heading}\n" in text
    for name in (f.name for f in dataclasses.fields(Assumptions)):
        assert f"`{name}`" in text


def test_wire_sizes_come_from_a_real_megolm_envelope() -> None:
    w = measure_wire_sizes()
    assert w.plaintext < w.envelope < w.stream_content < w.hint
    assert w.reference < 100


def test_bench_scaling_subcommand_prints_the_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps(_results()))
    monkeypatch.setattr(sys, "argv", ["bench", "scaling", str(results)])
    bench_main()
    assert "## What would break first" in capsys.readouterr().out
