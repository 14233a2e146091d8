"""The derived-sizing and limits sections of ``docs/scaling.md``, and the number formats."""

# ruff: noqa: RUF001 - the document writes its arithmetic with multiplication and minus signs.

from __future__ import annotations

from collections.abc import Sequence

from bench.scaling import MAX_BATCH, RELAY_DEVICE_COPIES, ROWS_PER_SEND, Sizing

DB_POOL = 20  # `db_pool_size` 10 plus as much overflow (courtyard.db.database.create_engine)
USER_TABLES = (
    "stream_heads, stream_events, devices, device_keys, one_time_keys, fallback_keys, "
    "to_device_inbox, user_conversations"
)
CONVERSATION_TABLES = "conversations, conversation_members, timeline_events, message_txns"


def num(x: float) -> str:
    """Three significant digits, thousands separated: 641,667 → 642,000; 0.4123 → 0.412."""
    if abs(x) >= 100:
        return f"{float(f'{x:.3g}'):,.0f}"
    return f"{x:.3g}"


def nbytes(x: float) -> str:
    """SI bytes (kB = 1,000 B), three significant digits."""
    for unit, scale in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x:.0f} B"


def exact(x: float) -> str:
    """A quotient before rounding up: one decimal."""
    return f"{x:,.1f}"


def rate(bytes_s: float) -> str:
    return f"{nbytes(bytes_s)}/s ({num(bytes_s * 8 / 1e9)} Gbit/s)"


def table(head: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    return [
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" for _ in head) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]


def _traffic(s: Sizing) -> list[str]:
    a, t = s.assumptions, s.traffic
    return [
        "## Derived sizing",
        "",
        "### Traffic",
        "",
        *table(
            ("quantity", "how", "value"),
            [
                ("daily users", "monthly users × daily share", num(t.dau)),
                ("messages/day", "daily users × messages each", num(t.messages_per_day)),
                (
                    "messages/s, peak",
                    f"per day ÷ 86,400 × {a.peak_to_average:g}",
                    num(t.peak_messages_s),
                ),
                (
                    "streams per message",
                    f"{a.direct_share:g} × 2 + {1 - a.direct_share:g} × "
                    f"{a.group_audience:g} (the sender's own stream included)",
                    num(t.audience),
                ),
                (
                    "device copies per message",
                    f"streams × {a.devices_per_user:g} devices",
                    num(t.device_copies),
                ),
                (
                    "stream rows/s, peak (= NATS hints/s)",
                    "messages/s × streams",
                    num(t.peak_stream_rows_s),
                ),
                ("device copies/s, peak", "messages/s × device copies", num(t.peak_deliveries_s)),
                (
                    "sockets open at the peak",
                    "daily users × devices × connected share",
                    num(t.connections),
                ),
            ],
        ),
    ]


def _nodes(s: Sizing) -> list[str]:
    a, f, n, t = s.assumptions, s.figures, s.nodes, s.traffic
    usable = f"{n.node_cores:.2f} cores × {a.cpu_headroom:g}"
    return [
        "### `courtyard serve` nodes",
        "",
        f"An average message costs {f.best.cpu_ms:g} ms (the relay's, covering the send and "
        f"{RELAY_DEVICE_COPIES} device copies) + {num(max(0.0, t.device_copies - 2))} further "
        f"copies × {f.delivery_cpu_ms:.3g} ms = **{num(n.cost_ms)} ms** of node CPU, "
        f"{num(n.cost_ratio)} × a relayed 1:1 message. Sends and deliveries land on whichever "
        "nodes the devices are connected to; the load balancer spreads devices evenly.",
        "",
        *table(
            ("bound", "how", "nodes"),
            [
                (
                    "CPU, messages",
                    f"{num(t.peak_messages_s)} msg/s × {num(n.cost_ms)} ms ÷ ({usable})",
                    exact(n.message_nodes),
                ),
                (
                    "CPU, idle sockets",
                    f"{num(t.connections)} sockets × "
                    f"{f.idle_cpu_percent_per_connection:.3g} % of a core ÷ ({usable})",
                    exact(n.idle_nodes),
                ),
                (
                    "CPU, total",
                    "the two above on the same cores",
                    exact(n.message_nodes + n.idle_nodes),
                ),
                (
                    "memory, sockets",
                    f"{num(t.connections)} sockets ÷ {num(n.connections_per_node)} per node",
                    exact(n.memory_nodes),
                ),
            ],
        ),
        f"**{n.nodes:,} nodes** (bound by {n.bound}), i.e. {n.machines:,} machines of "
        f"{a.nodes_per_machine:g} cores and {a.nodes_per_machine * a.node_memory_mib / 1024:g}"
        f" GiB. Socket egress to devices: {rate(n.egress_bytes_s)} before TLS and WebSocket "
        f"framing ({s.wire.frame} B per frame; media not included).",
        "",
    ]


def _database(s: Sizing) -> list[str]:
    a, d, t = s.assumptions, s.database, s.traffic
    return [
        "### PostgreSQL / Citus",
        "",
        *table(
            ("co-location group", "distribution column", "tables"),
            [
                ("inbox", "`user_id`", USER_TABLES),
                ("timeline", "`conversation_id`", CONVERSATION_TABLES),
                ("media", "`media_id`", "media"),
            ],
        ),
        f"Row writes per message: {ROWS_PER_SEND} (timeline row, txn row, the conversation's "
        f"`last_seq`) + 2 × {num(t.audience)} streams (a `stream_heads` update and a "
        f"`stream_events` insert each) + {num(t.device_copies)} copies × "
        f"{a.acks_per_copy:g} ack writes each (`devices.acked_position`) = "
        f"{num(d.row_writes_per_message)}; at the peak **{num(d.peak_row_writes_s)} rows/s**.",
        "",
        *table(
            ("bound", "how", "workers"),
            [
                (
                    "write rate",
                    f"{num(d.peak_row_writes_s)} rows/s ÷ "
                    f"({num(a.pg_rows_per_worker_s)} × {a.cpu_headroom:g})",
                    exact(d.workers_by_writes),
                ),
                (
                    "storage",
                    f"{nbytes(s.storage.stored)} ÷ ({a.worker_disk_tb:g} TB × {a.disk_fill:g})",
                    exact(d.workers_by_storage),
                ),
            ],
        ),
        f"**{d.workers:,} workers** (bound by {d.bound}), each with a standby: {d.machines:,} "
        f"PostgreSQL machines with the coordinator. **{d.shards:,} shards** per co-location "
        f"group (a power of two ≥ {a.shard_growth:g} per worker and ≤ {a.max_shard_gb:g} GB "
        "each); both groups use the same count, so shard *i* of each sits on one worker.",
        "",
        "Why `stream_heads` and `stream_events` are co-located by `user_id`: a fan-out locks "
        "each recipient's head row, bumps it and inserts the recipient's copy in the same "
        "transaction (`StreamStore.append_many`). Co-located, those two writes are on one "
        "shard, so a recipient costs one shard (one worker), and a recipient's devices, keys "
        "and acks are there too. A message touches its conversation's shard plus one shard "
        f"per member: a 1:1 send touches {d.workers_per_direct:.2f} workers on average, a "
        f"message to a {a.group_audience:g}-member group {num(d.workers_per_group)}.",
        "",
    ]


def _nats(s: Sizing) -> list[str]:
    a, q = s.assumptions, s.nats
    return [
        "### NATS",
        "",
        "One subject per user, `courtyard.stream.<user_id>`; a node subscribes to it while "
        "one of the user's devices listens there, so subscriptions ≈ open sockets "
        f"({num(q.subscriptions)}). One hint per stream copy: **{num(q.hints_s)} hints/s** of "
        f"{s.wire.hint} B. Each costs its publish plus, per listening device "
        f"({a.devices_per_user:g} × {a.connected_share:g} per user), a route hop out, a route "
        f"hop in and a delivery: {q.ops_per_hint:.2f} operations, "
        f"**{num(q.ops_s)} operations/s, {rate(q.bytes_s)}**.",
        "",
        f"Servers: max(operations ÷ ({num(a.nats_msgs_per_server)} × {a.cpu_headroom:g}), "
        f"bytes ÷ ({nbytes(a.nats_bytes_per_server)}/s × {a.cpu_headroom:g})) = "
        f"{exact(q.servers_needed)} → **{q.servers:,} servers: {q.clusters} core cluster(s) of "
        f"{q.servers_per_cluster}**"
        + (
            ", users partitioned over the clusters by a hash of the user id (a node connects "
            "to every cluster and publishes each hint to its user's)."
            if q.clusters > 1
            else "."
        )
        + f" Each server holds its cluster's interest: {nbytes(q.interest_bytes_per_server)} "
        f"at {a.nats_bytes_per_subscription:g} B per subject. JetStream is not on this path.",
        "",
    ]


def _storage(s: Sizing) -> list[str]:
    a, st, t = s.assumptions, s.storage, s.traffic
    rows = [
        (
            "`timeline_events`",
            st.timeline_row,
            t.messages_per_day,
            st.timeline_day,
            a.timeline_retention_days,
        ),
        ("`message_txns`", st.txn_row, t.messages_per_day, st.txn_day, a.txn_retention_days),
        (
            "`stream_events`",
            st.inbox_row,
            t.messages_per_day * t.audience,
            st.inbox_day,
            a.inbox_retention_days,
        ),
    ]
    return [
        "### Storage per day",
        "",
        "Row bytes from the columns (docs/messaging.md) plus PostgreSQL's per-row and "
        "per-index-entry overheads (assumptions above); JSON content at its measured size.",
        "",
        *table(
            ("table", "bytes per row with indexes", "rows/day", "per day", "kept (days)", "stored"),
            [
                (name, num(per_row), num(count), nbytes(day), f"{days:g}", nbytes(day * days))
                for name, per_row, count, day, days in rows
            ]
            + [
                ("**database, one copy**", "", "", nbytes(st.database_day), "", nbytes(st.stored)),
                (
                    f"database, × {a.pg_replication:g} copies",
                    "",
                    "",
                    nbytes(st.database_day * a.pg_replication),
                    "",
                    nbytes(st.stored * a.pg_replication),
                ),
                (
                    "media (blob store, not PostgreSQL)",
                    nbytes(a.media_bytes),
                    num(t.messages_per_day * a.media_share),
                    nbytes(st.media_day),
                    "",
                    "",
                ),
            ],
        ),
        f"The inbox copies carry the whole event, envelope included ({s.wire.stream_content} "
        f"B each), so before compaction they are {num(st.inbox_day / st.timeline_day)} × the "
        "timeline's bytes per day. Write-ahead log, backups and vacuum bloat come on top.",
        "",
    ]


def derived(s: Sizing) -> list[str]:
    return [*_traffic(s), *_nodes(s), *_database(s), *_nats(s), *_storage(s)]


def _node_limit(s: Sizing) -> str:
    n = s.nodes
    cpu = n.message_nodes + n.idle_nodes
    if n.bound == "memory":
        return (
            f"**Node memory.** Sockets fill nodes before CPU does ({num(n.memory_nodes)} "
            f"nodes by memory, {num(cpu)} by CPU): {s.figures.rss_per_connection_kib:g} KiB "
            "per idle socket. A smaller per-socket footprint moves the bound to CPU."
        )
    if n.idle_nodes > n.message_nodes:
        return (
            f"**Idle sockets' CPU.** Quiet sockets take {num(n.idle_nodes)} nodes' worth of CPU"
            f", messages {num(n.message_nodes)}. Idle CPU is each quiet socket's periodic work "
            "(the server's WebSocket keep-alive ping every 20 s, and a database read and token "
            "check every `sync_recheck_seconds`); it grows with the socket count, not the "
            "traffic. A longer ping interval is the cheapest lever. It was measured over one "
            "short idle window right after the sockets connected (per-node figures above), so "
            "it is also the least certain figure."
        )
    return (
        f"**Node CPU for messages** ({num(n.message_nodes)} nodes), mostly delivering copies: "
        f"{num(s.traffic.device_copies)} per message at {s.figures.delivery_cpu_ms:.3g} ms each."
    )


def _limits(s: Sizing) -> list[str]:
    d, q, st = s.database, s.nats, s.storage
    return [
        "## What would break first",
        "",
        f"1. {_node_limit(s)}",
        f"2. **Inbox fan-out on write.** {num(s.traffic.audience)} stream copies per message, "
        f"each with the full ciphertext: {nbytes(st.inbox_day)}/day of inbox rows against "
        f"{nbytes(st.timeline_day)} of timeline. Copies that point at `(conversation_id, seq)` "
        f"would take {num(st.reference_row)} B a row instead of {num(st.inbox_row)}, at the "
        "price of a timeline read for every delivery that misses the hint.",
        "3. **Multi-worker transactions.** Every send writes its conversation's shard and "
        f"each member's inbox shard in one transaction: a 1:1 send touches "
        f"{d.workers_per_direct:.2f} workers, a group message {num(d.workers_per_group)}, so "
        "Citus commits nearly every send with two-phase commit, and a full batch "
        f"({MAX_BATCH} 1:1 sends) touches {num(d.workers_per_batch)} of the {d.workers:,} "
        "workers: one slow worker stalls every batch that reaches it. Cutting batches per "
        "worker group bounds a batch's reach; a send's own spread comes with fan-out on write.",
        "4. **Recall rewrites by `event_id`.** `StreamStore.rewrite` updates `stream_events` "
        f"without the distribution column, so one recall touches all {d.shards:,} shards. It "
        "needs the audience's user ids in the `WHERE`.",
        f"5. **The coordinator.** {num(d.ack_transactions_s)} ack transactions/s (two per ack) "
        f"and {s.nodes.nodes:,} nodes × {DB_POOL} pooled connections cannot all pass through "
        'one coordinator: route from every worker (Citus "query from any node") behind '
        "PgBouncer.",
        f"6. **NATS interest.** {num(q.subscriptions)} subscriptions, "
        f"{nbytes(q.interest_bytes_per_server)} of interest per server"
        + (
            f"; {q.clusters} clusters need the bus partitioned by user, which `NatsBus` (one "
            "URL) does not do yet."
            if q.clusters > 1
            else "."
        )
        + "",
        "7. **Retention jobs that do not exist yet.** Nothing deletes acknowledged "
        "`stream_events` or old `message_txns` rows today; the storage above assumes jobs that "
        "do.",
        "",
    ]


NOT_MODELLED = (
    "Media: upload/download bandwidth, the blob store and a CDN (only bytes/day are given).",
    "The key server: key queries and one-time-key claims when sessions start, and the "
    "to-device Olm messages that share a Megolm key on every rotation (100 messages, 7 days, "
    "a membership change): one per member device.",
    "Read receipts and typing notices: stream events without timeline rows, possibly as many "
    "as messages.",
    "Reads: catch-up sync after reconnects (a reconnect storm after a deploy or an outage "
    "reads every stream at once), history paging, key queries.",
    "Sign-in (one argon2id hash each), TLS termination, load balancers, push notifications to "
    "offline phones.",
    "Payments, Moments, official accounts and mini-apps.",
    "Cross-region deployment: latency between regions, data residency, failover.",
    "Hot users and groups: the model spreads load evenly over shards, nodes and servers.",
)


def limits(s: Sizing) -> list[str]:
    return [
        *_limits(s),
        "## What is not modelled",
        "",
        *(f"- {item}" for item in NOT_MODELLED),
        "",
    ]
