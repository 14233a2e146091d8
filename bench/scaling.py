"""A capacity model for 660 million users: assumptions in, node/worker/server counts out.

Everything here is arithmetic on three inputs: the stated ``Assumptions`` (the defaults of its
fields: adjust them here), the per-node ``Figures`` measured by ``bench run``
(``bench.scaling_figures``) and the ``WireSizes`` of a real message (``bench.scaling_wire``).
``bench.scaling_doc`` renders the result as ``docs/scaling.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from bench.scaling_figures import Figures
from bench.scaling_wire import WireSizes

SECONDS_PER_DAY = 86_400
# The relay workload's shape: a 1:1 message goes to both members' streams (the sender's own
# devices see it too), and each relay user has one device on a socket.
RELAY_STREAM_COPIES = 2
RELAY_DEVICE_COPIES = 2
# Rows a send writes besides the per-member ones: timeline_events, message_txns, and the
# conversation's last_seq update (docs/fast-path.md).
ROWS_PER_SEND = 3
MAX_BATCH = 256  # sends committed in one transaction at most (SendQueue)


def _a(value: float, what: str, source: str) -> Any:
    """A dataclass field holding one assumption, with the words the document prints for it."""
    return field(default=value, metadata={"what": what, "source": source})


@dataclass(frozen=True)
class Assumptions:
    """Every number the model takes on faith; the document prints each with its source."""

    # Users and traffic.
    monthly_users: float = _a(660e6, "monthly active users", "the issue's target")
    dau_share: float = _a(
        0.8,
        "daily active share of monthly users",
        "assumption: a saturated messenger is opened daily by most of its monthly users",
    )
    devices_per_user: float = _a(
        1.6,
        "devices per user (each logged-in device has its own socket, stream acks)",
        "assumption: a phone, plus a desktop or web device for some",
    )
    connected_share: float = _a(
        0.30,
        "share of daily users' devices holding a sync socket at the daily peak",
        "assumption: phones drop sockets in the background (push notifications are not modelled)",
    )
    messages_per_dau: float = _a(
        35,
        "messages sent per daily user per day",
        "Tencent's public statements, order of magnitude only: ~45 billion WeChat messages "
        "a day for a user base of ~1.1-1.3 billion, i.e. ~35-40 each",
    )
    peak_to_average: float = _a(3.0, "peak-hour rate ÷ daily average rate", "assumption")
    direct_share: float = _a(0.6, "share of messages sent in 1:1 conversations", "assumption")
    group_audience: float = _a(
        20,
        "joined members of the group a group message goes to (message-weighted mean)",
        "assumption: family and work groups of 5-50, a few large ones (limit 500)",
    )
    acks_per_copy: float = _a(
        1.0,
        "ack writes per device copy delivered",
        "upper bound: a device acks each frame; coalescing lowers it under load",
    )
    media_share: float = _a(0.10, "share of messages carrying an attachment", "assumption")
    media_bytes: float = _a(200e3, "mean attachment ciphertext, bytes", "assumption")
    # Retention.
    timeline_retention_days: float = _a(
        365, "days the timeline (history paging) is kept", "assumption: a product decision"
    )
    inbox_retention_days: float = _a(
        1,
        "days a stream row is kept after every device acked it",
        "assumption; needs a compaction job that is not built (rows are never deleted today)",
    )
    txn_retention_days: float = _a(
        1,
        "days a send's txn id is kept (retries come within seconds)",
        "as for to-device txn ids; message_txns has no purge job yet",
    )
    # courtyard serve nodes.
    cpu_headroom: float = _a(
        0.5,
        "share of a server's measured (or assumed) maximum used at peak",
        "assumption: room for failover, deploys and bursts",
    )
    node_memory_mib: float = _a(
        4096,
        "memory per node (one process, one core), MiB",
        "assumption: a 4 GiB-per-vCPU machine",
    )
    memory_usable: float = _a(0.75, "share of a node's memory its sockets may fill", "assumption")
    nodes_per_machine: float = _a(
        32, "nodes per machine (one `courtyard serve` process per core)", "assumption"
    )
    # PostgreSQL / Citus.
    pg_rows_per_worker_s: float = _a(
        30_000,
        "sustained row writes/s per Citus worker (inserts and updates)",
        "assumption, not a measurement: ~20-50k on NVMe, batched commits",
    )
    pg_replication: float = _a(2, "copies of every worker (primary + standby)", "assumption")
    worker_disk_tb: float = _a(7.68, "NVMe per worker, TB (10^12 B)", "assumption")
    disk_fill: float = _a(0.7, "share of a worker's disk the data may fill", "assumption")
    shard_growth: float = _a(
        4,
        "shards per worker at the start (the cluster can grow this many times by moving shards)",
        "assumption; Citus docs: at least one shard per worker core, room to grow",
    )
    max_shard_gb: float = _a(100, "largest shard, GB, before splitting", "assumption")
    tuple_overhead: float = _a(
        28, "bytes per heap row besides its columns", "PostgreSQL: 23 B header + 1 + 4 B pointer"
    )
    index_overhead: float = _a(
        16, "bytes per B-tree entry besides its key", "PostgreSQL: 8 B tuple header + 4 B pointer"
    )
    btree_fill: float = _a(0.7, "B-tree leaf fill with scattered inserts", "assumption")
    # NATS.
    nats_msgs_per_server: float = _a(
        1e6,
        "message operations/s per NATS server (in or out, ~1 KB payloads)",
        "assumption: a fraction of nats-bench figures on current hardware",
    )
    nats_bytes_per_server: float = _a(2.5e9, "bytes/s per NATS server (20 Gbit/s)", "assumption")
    nats_bytes_per_subscription: float = _a(
        300,
        "memory per subscribed subject, per server (interest is known cluster-wide)",
        "assumption",
    )
    nats_min_servers: float = _a(3, "smallest NATS cluster", "NATS: an odd-sized full mesh")
    nats_max_servers: float = _a(
        5,
        "largest NATS cluster before partitioning users over several",
        "assumption: routes are a full mesh; every server learns all interest",
    )
    p99_target_ms: float = _a(
        250, "send → receive p99 a node's planned rate must meet", "assumption"
    )


ASSUMPTIONS = Assumptions()


@dataclass(frozen=True)
class Traffic:
    dau: float
    messages_per_day: float
    peak_messages_s: float
    audience: float  # stream copies (member users, sender included) per message
    device_copies: float  # device deliveries per message
    peak_stream_rows_s: float
    peak_deliveries_s: float
    connections: float  # sockets open at the peak


@dataclass(frozen=True)
class Nodes:
    cost_ms: float  # server CPU per average message
    cost_ratio: float  # ... relative to the relay's 1:1 message
    node_cores: float  # CPU a node used at its measured best
    message_nodes: float  # nodes for messages alone, at headroom
    idle_nodes: float  # nodes for idle sockets' CPU alone, at headroom
    connections_per_node: float  # within memory
    memory_nodes: float
    nodes: int
    bound: str
    machines: int
    egress_bytes_s: float  # socket frames to devices


@dataclass(frozen=True)
class Storage:
    timeline_row: float  # bytes per message, row + index
    txn_row: float
    inbox_row: float  # bytes per stream copy, row + indexes
    reference_row: float  # ... if a copy held `(conversation_id, seq)` instead of the event
    timeline_day: float
    txn_day: float
    inbox_day: float
    media_day: float
    stored: float  # primary copy, at the retention assumptions

    @property
    def database_day(self) -> float:
        return self.timeline_day + self.txn_day + self.inbox_day


@dataclass(frozen=True)
class Database:
    row_writes_per_message: float
    peak_row_writes_s: float
    workers_by_writes: float
    workers_by_storage: float
    workers: int
    bound: str
    shards: int
    machines: int  # workers and coordinator, times the replication
    workers_per_direct: float  # expected workers one 1:1 send touches
    workers_per_group: float
    workers_per_batch: float  # ... a full batch of 1:1 sends
    ack_transactions_s: float


@dataclass(frozen=True)
class Nats:
    hints_s: float
    ops_per_hint: float
    ops_s: float
    bytes_s: float
    servers_needed: float
    clusters: int
    servers_per_cluster: int
    subscriptions: float
    interest_bytes_per_server: float

    @property
    def servers(self) -> int:
        return self.clusters * self.servers_per_cluster


@dataclass(frozen=True)
class Sizing:
    assumptions: Assumptions
    figures: Figures
    wire: WireSizes
    traffic: Traffic
    nodes: Nodes
    storage: Storage
    database: Database
    nats: Nats


def traffic(a: Assumptions) -> Traffic:
    dau = a.monthly_users * a.dau_share
    per_day = dau * a.messages_per_dau
    peak = per_day / SECONDS_PER_DAY * a.peak_to_average
    audience = a.direct_share * 2 + (1 - a.direct_share) * a.group_audience
    copies = audience * a.devices_per_user
    return Traffic(
        dau=dau,
        messages_per_day=per_day,
        peak_messages_s=peak,
        audience=audience,
        device_copies=copies,
        peak_stream_rows_s=peak * audience,
        peak_deliveries_s=peak * copies,
        connections=dau * a.devices_per_user * a.connected_share,
    )


def nodes(a: Assumptions, f: Figures, w: WireSizes, t: Traffic) -> Nodes:
    """Nodes by CPU (messages plus idle sockets) and by memory (sockets); the larger wins."""
    relay_ms = f.best.cpu_ms
    extra_copies = max(0.0, t.device_copies - RELAY_DEVICE_COPIES)
    cost_ms = relay_ms + extra_copies * f.delivery_cpu_ms
    node_cores = f.best.delivered_per_s * relay_ms / 1000
    usable = node_cores * a.cpu_headroom
    message_nodes = t.peak_messages_s * cost_ms / 1000 / usable
    idle_nodes = t.connections * f.idle_cpu_percent_per_connection / 100 / usable
    room_mib = a.node_memory_mib * a.memory_usable - f.base_rss_mib
    if room_mib <= 0:
        raise ValueError("a node's base RSS does not fit in its usable memory")
    per_node = room_mib * 1024 / f.rss_per_connection_kib
    memory_nodes = t.connections / per_node
    cpu_nodes = message_nodes + idle_nodes
    count = math.ceil(max(cpu_nodes, memory_nodes))
    return Nodes(
        cost_ms=cost_ms,
        cost_ratio=cost_ms / relay_ms,
        node_cores=node_cores,
        message_nodes=message_nodes,
        idle_nodes=idle_nodes,
        connections_per_node=per_node,
        memory_nodes=memory_nodes,
        nodes=count,
        bound="CPU" if cpu_nodes >= memory_nodes else "memory",
        machines=math.ceil(count / a.nodes_per_machine),
        egress_bytes_s=t.peak_deliveries_s * w.frame,
    )


def _align(size: float) -> float:
    return math.ceil(size / 8) * 8


def storage(a: Assumptions, w: WireSizes, t: Traffic) -> Storage:
    """Bytes per row from the tables' columns (docs/messaging.md), then per day and stored."""
    uuid, bigint, stamp = 37, 8, 8  # a 36-character text with its 1-byte length; 8-byte ints

    def row(columns: float) -> float:
        return a.tuple_overhead + _align(columns)

    def index(key: float) -> float:
        return (a.index_overhead + _align(key)) / a.btree_fill

    # conversation_id, seq, event_id, type, sender user, sender device, content, recalled, time
    timeline = row(uuid + bigint + uuid + 12 + uuid + uuid + w.envelope + 1 + stamp)
    timeline += index(uuid + bigint)
    # conversation_id, sender_device_id, txn_id, seq, created_at; PK on the first three
    txn = row(3 * uuid + bigint + stamp) + index(3 * uuid)
    # user_id, position, event_id, type, content, created_at; PK and the event_id index
    inbox = row(uuid + bigint + uuid + 19 + w.stream_content + stamp)
    inbox += index(uuid + bigint) + index(uuid)
    reference = inbox - w.stream_content + w.reference
    per_day = t.messages_per_day
    timeline_day, txn_day = per_day * timeline, per_day * txn
    inbox_day = per_day * t.audience * inbox
    stored = (
        timeline_day * a.timeline_retention_days
        + txn_day * a.txn_retention_days
        + inbox_day * a.inbox_retention_days
    )
    return Storage(
        timeline_row=timeline,
        txn_row=txn,
        inbox_row=inbox,
        reference_row=reference,
        timeline_day=timeline_day,
        txn_day=txn_day,
        inbox_day=inbox_day,
        media_day=per_day * a.media_share * a.media_bytes,
        stored=stored,
    )


def _distinct(workers: int, picks: float) -> float:
    """Expected distinct workers among ``picks`` shards hashed uniformly over ``workers``."""
    return workers * (1 - math.pow(1 - 1 / workers, picks))


def database(a: Assumptions, t: Traffic, s: Storage) -> Database:
    """Citus workers by write rate and by storage; shards a power of two with room to grow."""
    rows = ROWS_PER_SEND + 2 * t.audience + t.device_copies * a.acks_per_copy
    peak_rows = t.peak_messages_s * rows
    by_writes = peak_rows / (a.pg_rows_per_worker_s * a.cpu_headroom)
    by_storage = s.stored / (a.worker_disk_tb * 1e12 * a.disk_fill)
    workers = max(2, math.ceil(max(by_writes, by_storage)))
    wanted = max(workers * a.shard_growth, s.stored / (a.max_shard_gb * 1e9))
    return Database(
        row_writes_per_message=rows,
        peak_row_writes_s=peak_rows,
        workers_by_writes=by_writes,
        workers_by_storage=by_storage,
        workers=workers,
        bound="write rate" if by_writes >= by_storage else "storage",
        shards=2 ** math.ceil(math.log2(wanted)),
        machines=math.ceil((workers + 1) * a.pg_replication),
        workers_per_direct=_distinct(workers, 1 + 2),
        workers_per_group=_distinct(workers, 1 + a.group_audience),
        workers_per_batch=_distinct(workers, MAX_BATCH * (1 + 2)),
        ack_transactions_s=t.peak_deliveries_s * a.acks_per_copy * 2,
    )


def nats(a: Assumptions, w: WireSizes, t: Traffic) -> Nats:
    """One hint per stream copy; each costs its publish, and per listening node a route hop
    out, a route hop in and a delivery to the node (subscriptions ≈ connected devices)."""
    listening_per_user = a.devices_per_user * a.connected_share
    ops_per_hint = 1 + 3 * listening_per_user
    ops = t.peak_stream_rows_s * ops_per_hint
    size = ops * w.hint
    needed = max(
        ops / (a.nats_msgs_per_server * a.cpu_headroom),
        size / (a.nats_bytes_per_server * a.cpu_headroom),
    )
    clusters = max(1, math.ceil(needed / a.nats_max_servers))
    per_cluster = max(int(a.nats_min_servers), math.ceil(needed / clusters))
    return Nats(
        hints_s=t.peak_stream_rows_s,
        ops_per_hint=ops_per_hint,
        ops_s=ops,
        bytes_s=size,
        servers_needed=needed,
        clusters=clusters,
        servers_per_cluster=per_cluster,
        subscriptions=t.connections,
        interest_bytes_per_server=t.connections / clusters * a.nats_bytes_per_subscription,
    )


def size(figures: Figures, wire: WireSizes, a: Assumptions = ASSUMPTIONS) -> Sizing:
    """The whole model for one set of assumptions and measured figures."""
    t = traffic(a)
    s = storage(a, wire, t)
    return Sizing(
        assumptions=a,
        figures=figures,
        wire=wire,
        traffic=t,
        nodes=nodes(a, figures, wire, t),
        storage=s,
        database=database(a, t, s),
        nats=nats(a, wire, t),
    )
