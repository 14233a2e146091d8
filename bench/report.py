"""Turn a results file into plain tables (terminal) and ``docs/benchmarks.md`` (Markdown)."""

from __future__ import annotations

from typing import Any

from bench.compare import ratios
from bench.targets import verdicts

PLOT_NAME = "benchmarks-latency.png"

RELAY_COLUMNS = (
    ("load", None), ("sent", "sent"), ("delivered", "delivered"),
    ("not accepted", "errors"), ("msg/s", "delivered_per_s"),
    ("p50 ms", "p50_ms"), ("p95 ms", "p95_ms"), ("p99 ms", "p99_ms"),
    ("server CPU ms/msg", "server_cpu_ms_per_msg"),
    ("of it main thread", "server_loop_cpu_ms_per_msg"),
    ("of it other threads", "server_threads_cpu_ms_per_msg"),
    ("client CPU ms/msg", "client_cpu_ms_per_msg"), ("peak RSS MiB", "server_peak_rss_mib"),
)  # fmt: skip


def _load(point: dict[str, Any]) -> str:
    over = f", {point['transport']}" if "transport" in point else ""
    if point["mode"] == "open":
        return f"{point['rate']} msg/s offered{over}"
    return f"concurrency {point['concurrency']}{over}"


def _cell(point: dict[str, Any], key: str | None) -> str:
    if key is None:
        return _load(point)
    value = point.get(key)
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _table(points: list[dict[str, Any]], columns: tuple[tuple[str, str | None], ...]) -> str:
    head = "| " + " | ".join(name for name, _ in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    rows = ["| " + " | ".join(_cell(p, key) for _, key in columns) + " |" for p in points]
    return "\n".join([head, rule, *rows])


def _sections(result: dict[str, Any]) -> list[str]:
    parts: list[str] = []
    limit = result.get("limit")
    if limit:
        for name, title in (
            ("ws_echo", "WebSocket echo"),
            ("http_relay", "HTTP → WebSocket relay"),
        ):
            parts += [
                f"### Limit: bare uvicorn, {title}",
                "",
                _table(limit[name], RELAY_COLUMNS),
                "",
            ]
    for backend, figures in result["backends"].items():
        relay = figures.get("relay")
        if relay:
            parts += [
                f"### Relay on {backend} ({relay['devices']} devices, "
                f"{relay['conversations']} 1:1 conversations)", "",
                _table(relay["points"], RELAY_COLUMNS), "",
            ]  # fmt: skip
        connections = figures.get("connections")
        if connections:
            rows = "\n".join(f"| {k} | {v} |" for k, v in connections.items())
            parts += [f"### Idle connections on {backend}", "", "| figure | value |",
                      "|---|---|", rows, ""]  # fmt: skip
        fanout = figures.get("fanout")
        if fanout:
            parts += [
                f"### Fan-out on {backend} ({fanout['group_size']}-member group, "
                f"setup {fanout['setup_s']} s)", "",
                _table_rounds(fanout["rounds"]), "",
                f"Median time until every device had it: **{fanout['median_all_ms']} ms**.", "",
            ]  # fmt: skip
        parts += _wallet_section(backend, figures.get("wallet"))
        parts += _gate_section(backend, figures.get("gate"))
        parts += _synapse_sections(backend, figures)
    return parts


def _gate_section(backend: str, gate: dict[str, Any] | None) -> list[str]:
    """The consent gate's read (issue 6) beside the token lookup each request already makes."""
    if not gate:
        return []
    return [
        f"### Consent gate on {backend} ({gate['calls']} calls of each, in-process, interleaved)",
        "",
        "| step of an authenticated request | p50 µs | p95 µs |",
        "|---|---|---|",
        f"| bearer-token lookup (`authenticate`) | {gate['auth_p50_us']} | {gate['auth_p95_us']} |",
        f"| consent gate (`ConsentGate.check`) | {gate['gate_p50_us']} | {gate['gate_p95_us']} |",
        "",
        f"The gate costs **{gate['gate_over_auth']} times** the token lookup's time (medians).",
        "",
    ]


def _wallet_section(backend: str, wallet: dict[str, Any] | None) -> list[str]:
    """Idempotent transfers (issue 5): creating, replaying, accepting; how each was sent, the
    CPU it cost the server, PostgreSQL and the load generator, and the batches it made."""
    if not wallet:
        return []
    head = (
        "| phase | sent over | requests | per s | p50 ms | p95 ms | p99 ms | server CPU ms "
        "| PostgreSQL CPU ms | client CPU ms | commits | mean batch | statuses |"
    )
    phases = [p for p in ("create", "create_http", "replay", "accept") if p in wallet]
    rows = [
        f"| {phase} | {f.get('transport', 'HTTP')} | {f['requests']} | {f['per_s']} | "
        f"{f['p50_ms']} | {f['p95_ms']} | {f['p99_ms']} | {f['server_cpu_ms']} | "
        f"{_cpu_or_dash(f.get('postgres_cpu_ms'))} | {_cpu_or_dash(f.get('client_cpu_ms'))} | "
        f"{f.get('batches', '-')} | {f.get('mean_batch') or '-'} | {f['statuses']} |"
        for phase, f in ((p, wallet[p]) for p in phases)
    ]
    return [
        f"### Wallet transfers on {backend} ({wallet['users']} funded users, "
        f"{wallet['concurrency']} concurrent clients, setup {wallet['setup_s']} s)",
        "",
        head,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        *_transfer_time(backend, wallet),
    ]


def _transfer_time(backend: str, wallet: dict[str, Any]) -> list[str]:
    """Where a created transfer's CPU goes, from the figures: the server, PostgreSQL and the
    load generator share this machine's cores (the profiles: docs/wallet.md, "Benchmark")."""
    create = wallet["create"]
    if "client_cpu_ms" not in create:
        return []
    parts = {
        "server": create["server_cpu_ms"],
        "PostgreSQL": max(0.0, create.get("postgres_cpu_ms") or 0.0),
        "load generator": create["client_cpu_ms"],
    }
    total = sum(parts.values())
    spent = " + ".join(f"{name} {ms:g}" for name, ms in parts.items() if ms)
    busy = total * create["per_s"] / 1000
    return [
        f"Where a transfer's time goes on {backend}: {spent} = {total:.2f} ms of CPU per "
        f"created transfer; at {create['per_s']:g}/s that keeps {busy:.2f} cores busy, and "
        f"2,000/s at this cost would need {2 * total:.1f} cores. Each commit carried "
        f"{create.get('mean_batch') or '-'} transfers on average; with "
        f"{wallet['concurrency']} clients in a closed loop, throughput is also bounded by "
        "the time a batch takes (its statements' round trips). Profiles: docs/wallet.md, "
        '"Benchmark: idempotent transfers per second".',
        "",
    ]


def _cpu_or_dash(value: float | None) -> str:
    """A CPU figure; a dash where there is none or it cannot be trusted (a process that ended
    during the phase took its CPU time with it)."""
    return "-" if value is None or value <= 0 else f"{value:g}"


def _synapse_sections(backend: str, figures: dict[str, Any]) -> list[str]:
    """Synapse's relay table and the Courtyard ÷ Synapse ratios, or why there are none."""
    synapse = figures.get("synapse")
    if not synapse:
        return []
    if "error" in synapse:
        return [f"### Synapse relay on {backend}", "", f"Not measured: `{synapse['error']}`", ""]
    parts = [
        f"### Synapse {synapse['version']} relay on {backend} ({synapse['devices']} users, "
        f"{synapse['conversations']} private encrypted rooms, every user long-polling `/sync`)", "",
        _table(synapse["points"], RELAY_COLUMNS), "",
    ]  # fmt: skip
    rows = ratios(figures)
    if rows:
        columns = (
            ("Courtyard sends over", "transport"), ("concurrency", "concurrency"),
            ("Courtyard msg/s", "courtyard_per_s"), ("Synapse msg/s", "synapse_per_s"),
            ("Courtyard ÷ Synapse", "throughput_ratio"),
            ("Courtyard CPU ms/msg", "courtyard_cpu_ms"), ("Synapse CPU ms/msg", "synapse_cpu_ms"),
            ("Synapse ÷ Courtyard CPU", "cpu_ratio"),
        )  # fmt: skip
        parts += [f"### Courtyard ÷ Synapse on {backend} (closed loop)", "",
                  _table(rows, columns), ""]  # fmt: skip
    return parts + _synapse_fanout(backend, synapse.get("fanout"), figures.get("fanout"))


def _synapse_fanout(
    backend: str, fanout: dict[str, Any] | None, ours: dict[str, Any] | None
) -> list[str]:
    if not fanout:
        return []
    title = f"### Synapse fan-out on {backend}"
    if "error" in fanout:
        return [title, "", f"Not measured: `{fanout['error']}`", ""]
    compared = f" (Courtyard: {ours['median_all_ms']} ms)" if ours else ""
    return [
        f"{title} ({fanout['group_size']}-member room, setup {fanout['setup_s']} s)", "",
        _table_rounds(fanout["rounds"]), "",
        f"Median time until every user's sync had it: **{fanout['median_all_ms']} ms**"
        f"{compared}.", "",
    ]  # fmt: skip


def _table_rounds(rounds: list[dict[str, Any]]) -> str:
    keys = list(rounds[0]) if rounds else []
    head = "| round | " + " | ".join(keys) + " |"
    rule = "|" + "|".join("---" for _ in range(len(keys) + 1)) + "|"
    rows = [f"| {i} | " + " | ".join(str(r[k]) for k in keys) + " |" for i, r in enumerate(rounds)]
    return "\n".join([head, rule, *rows])


def tables(result: dict[str, Any]) -> str:
    """What ``bench run`` prints at the end: the tables and the target verdicts."""
    lines = _sections(result) + ["### Targets", ""] + [f"- {v}" for v in verdicts(result)]
    return "\n".join(lines)


def _plot_lines(plot_name: str | None) -> list[str]:
    if plot_name is None:
        return []
    return [
        "## Latency against offered load",
        "",
        f"![p50 and p99 send-to-receive latency against offered load, Courtyard and Synapse, "
        f"per backend]({plot_name})",
        "",
        "Open-loop points only; latency counts from each send's scheduled time, on a log axis. "
        "Latency is that of the messages delivered within the bound: where a server falls "
        "behind the offered load, the tables say how many sends it did not accept in time.",
        "",
    ]


def markdown(result: dict[str, Any], plot_name: str | None = PLOT_NAME) -> str:
    """The whole of ``docs/benchmarks.md``; ``plot_name`` is the latency PNG beside it, if any."""
    meta = result["meta"]
    machine = meta["machine"]
    profile = meta["profile"]
    bounds = profile["bounds"]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `.venv/bin/python -m bench report bench/results/latest.json > "
        "docs/benchmarks.md` from the run below; do not edit by hand. How each workload works: "
        "`bench/README.md`.",
        "",
        "How a message travels and where its time goes (the profiles behind it): "
        "`docs/fast-path.md`. From these figures to 660 million users: `docs/scaling.md`.",
        "",
        "## Machine",
        "",
        f"- CPU: {machine['cpu_model']}, `nproc` = {machine['nproc']}",
        f"- Python {machine['python']}, Linux {machine['kernel']}",
        f"- open-file limit in the harness and servers: {meta['nofile_limit']}",
        "- `free -h`:",
        "",
        "```",
        machine["free_h"],
        "```",
        "",
        "The load generator runs on the same 2 cores as the server under test (one Python "
        "process, uvloop, a minimal keep-alive HTTP client and `websockets`), so every figure "
        "is for server and client sharing the machine; the client's own CPU per message is in "
        "the tables. Synapse, the comparison, runs from its own virtual environment with the "
        "same workload shapes on the same backend in the same run; having no WebSocket sync, "
        "its users long-poll `/sync` over the same minimal HTTP client (`bench/README.md`).",
        "",
        "## Run",
        "",
        f"- command: `{meta['command']}` (started {meta['started_at']}, took {meta['wall_s']} s)",
        f"- profile `{profile['name']}`: each point at most {bounds['duration_s']} s or "
        f"{bounds['max_messages']} messages, then up to {bounds['drain_s']} s to drain; "
        f"{profile['repeats']} run(s) per point, the tables show the median of the runs; "
        f"{profile['warmup_messages']} warm-up messages before the first point.",
        f"- idle connections requested: {meta['connections']}",
        *[
            f"- re-measured later: {', '.join(u['workloads'])} with `{u['command']}` (started "
            f"{u['started_at']}, took {u['wall_s']} s, idle connections {u['connections']}); "
            "those sections show the later figures" + (f" ({u['note']})" if u.get("note") else "")
            for u in meta.get("updates", [])
        ],
        "",
        "## Targets (issue 4)",
        "",
        *[f"- {v}" for v in verdicts(result)],
        "",
        *_plot_lines(plot_name),
        "## Figures",
        "",
        *_sections(result),
    ]
    return "\n".join(lines) + "\n"
