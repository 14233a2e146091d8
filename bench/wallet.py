"""Idempotent transfers per second: funded users with PINs (the verification cache warm), 64
concurrent clients sending transfers with fresh idempotency keys as ``wallet.transfer``
frames on their sync sockets, every one answered after its commit with the product path
(escrow entry, chat card, refund job, stream rows, pushed to both parties' sockets). Then
the same over HTTP, the keys replayed, and the transfers accepted over HTTP
(docs/wallet.md, "Benchmark"). Each phase reports the mean batch size the server committed
(``courtyard_wallet_transfer_batch_size`` in ``/metrics``)."""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from bench.accounts import PASSWORD, Device, bounded, direct, register_many
from bench.measure import settle
from bench.procs import CLOCK_TICKS, Served, cpu_seconds, loop_cpu_seconds
from bench.profile import Profile
from bench.rawhttp import Pool
from bench.sockets import SocketSet

USERS = 100
CONCURRENCY = 64
PIN = "246810"
FUNDING = "20000.00"
ANSWER_TIMEOUT_S = 60.0
BATCH_METRIC = "courtyard_wallet_transfer_batch_size"

Request = Callable[[], Awaitable[int]]  # one request; its status
Sent = tuple[Device, Device, str, dict[str, Any], str]  # sender, recipient, key, body, id


async def _prepare(http: httpx.AsyncClient, device: Device) -> None:
    headers = {"Authorization": f"Bearer {device.token}"}
    pin = await http.put("/v1/wallet/pin", json={"pin": PIN, "password": PASSWORD}, headers=headers)
    pin.raise_for_status()
    topup = await http.post(
        "/v1/wallet/topups",
        json={"amount": FUNDING, "currency": "CNY"},
        headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    topup.raise_for_status()
    operation = topup.json()["operation_id"]
    for _ in range(600):
        state = (await http.get(f"/v1/wallet/operations/{operation}", headers=headers)).json()
        if state["state"] == "succeeded":
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"top-up {operation} did not settle")


async def _setup(served: Served) -> list[Device]:
    async with httpx.AsyncClient(base_url=served.url, timeout=300, trust_env=False) as http:
        devices = await register_many(http, "w", USERS)
        await bounded(_prepare(http, d) for d in devices)
        await bounded(direct(http, devices[i], devices[(i + 1) % USERS]) for i in range(USERS))
    return devices


def _transfer_body(to: Device) -> dict[str, Any]:
    amount = random.randint(1, 100)
    return {
        "to_user_id": to.user_id,
        "amount": f"0.{amount:02d}" if amount < 100 else "1.00",
        "currency": "CNY",
        "pin": PIN,
    }


def _postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process on this machine (0 without PostgreSQL)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        name, _, rest = text.partition("(")[2].rpartition(")")
        if name == "postgres":
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


async def _batches(served: Served) -> tuple[float, float]:
    """The server's committed transfer batches so far: (sum of sizes, count)."""
    async with httpx.AsyncClient(base_url=served.url, timeout=30, trust_env=False) as http:
        text = (await http.get("/metrics")).text
    figures = {"sum": 0.0, "count": 0.0}
    for line in text.splitlines():
        for part in figures:
            if line.startswith(f"{BATCH_METRIC}_{part} "):
                figures[part] = float(line.split()[1])
    return figures["sum"], figures["count"]


async def _phase(
    served: Served, transport: str, requests: list[Request], duration_s: float | None
) -> dict[str, Any]:
    """Run ``requests`` from ``CONCURRENCY`` clients (until they run out, or for
    ``duration_s``); figures per request."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = list(reversed(requests))
    deadline = time.perf_counter() + duration_s if duration_s else None

    async def client() -> None:
        while queue and (deadline is None or time.perf_counter() < deadline):
            send = queue.pop()
            started = time.perf_counter()
            status = await send()
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1

    await settle(served.pid)
    batched_before, batches_before = await _batches(served)
    cpu_before, loop_before = cpu_seconds(served.pid), loop_cpu_seconds(served.pid)
    client_before, db_before = time.process_time(), _postgres_cpu()
    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    wall = time.perf_counter() - started
    cpu = cpu_seconds(served.pid) - cpu_before
    loop = loop_cpu_seconds(served.pid) - loop_before
    client_s, db_s = time.process_time() - client_before, _postgres_cpu() - db_before
    batched_after, batches_after = await _batches(served)
    ordered = sorted(latencies)
    count = max(1, len(latencies))

    def pct(q: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    batches = batches_after - batches_before
    return {
        "transport": transport,
        "requests": len(latencies),
        "per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "server_cpu_ms": round(1000 * cpu / count, 3),
        "server_loop_cpu_ms": round(1000 * min(loop, cpu) / count, 3),
        "client_cpu_ms": round(1000 * client_s / count, 3),
        "postgres_cpu_ms": round(1000 * db_s / count, 3),
        "batches": int(batches),
        "mean_batch": round((batched_after - batched_before) / batches, 1) if batches else None,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


class Transfers:
    """Sends transfer creations as socket frames or HTTP requests; records each 201."""

    def __init__(self, sockets: SocketSet, pool: Pool) -> None:
        self.sockets = sockets
        self.pool = pool
        self.sent: list[Sent] = []

    def frame(self, sender: Device, recipient: Device, key: str | None = None,
              body: dict[str, Any] | None = None) -> Request:  # fmt: skip
        async def send() -> int:
            chosen_key, chosen = key or str(uuid.uuid4()), body or _transfer_body(recipient)
            ref, answer = self.sockets.answers.expect()
            frame = {"type": "wallet.transfer", "ref": ref, "idempotency_key": chosen_key,
                     **chosen}  # fmt: skip
            await self.sockets.by_device[sender.device_id].send(json.dumps(frame))
            try:
                reply = await asyncio.wait_for(answer, ANSWER_TIMEOUT_S)
            except TimeoutError:
                self.sockets.answers.forget(ref)
                return 0
            if reply["type"] == "error":
                return int(reply["problem"]["status"])
            if key is None and reply["status"] == 201:
                self.sent.append((sender, recipient, chosen_key, chosen,
                                  reply["body"]["transfer_id"]))  # fmt: skip
            return int(reply["status"])

        return send

    def post(self, sender: Device, recipient: Device) -> Request:
        async def send() -> int:
            key, body = str(uuid.uuid4()), _transfer_body(recipient)
            status, _ = await self.pool.request(
                "POST", "/v1/wallet/transfers", json.dumps(body).encode(), sender.token,
                {"Idempotency-Key": key},
            )  # fmt: skip
            return status

        return send

    def accept(self, item: Sent) -> Request:
        _, recipient, _, _, transfer_id = item
        path = f"/v1/wallet/transfers/{transfer_id}/accept"

        async def send() -> int:
            status, _ = await self.pool.request("POST", path, b"", recipient.token)
            return status

        return send


async def run_wallet(served: Served, profile: Profile) -> dict[str, Any]:
    started = time.perf_counter()
    devices = await _setup(served)
    setup_s = round(time.perf_counter() - started, 1)
    print(f"  wallet: {USERS} users funded, with PINs and chats, in {setup_s} s", flush=True)
    sockets = SocketSet()
    await sockets.connect(served.url, devices, lambda _device: lambda _event_id: None)
    if len(sockets.by_device) != USERS:
        raise RuntimeError(f"only {len(sockets.by_device)} of {USERS} sockets connected")
    pool = Pool(served.port, CONCURRENCY)
    sends = Transfers(sockets, pool)
    pairs = [(d, devices[(i + 1) % USERS]) for i, d in enumerate(devices)]
    try:
        # Warm each sender's PIN (one argon2id per user and node), as a long-running node has.
        await _phase(served, "socket", [sends.frame(a, b) for a, b in pairs], None)
        sends.sent.clear()
        duration = profile.bounds.duration_s * 5
        figures: dict[str, Any] = {"users": USERS, "concurrency": CONCURRENCY, "setup_s": setup_s}
        many = [sends.frame(a, b) for a, b in pairs] * 2000
        figures["create"] = await _phase(served, "socket", many, duration)
        created = list(sends.sent)
        posts = [sends.post(a, b) for a, b in pairs] * 200
        figures["create_http"] = await _phase(served, "HTTP", posts, duration / 2)
        replays = [sends.frame(s, r, key, body) for s, r, key, body, _ in created]
        figures["replay"] = await _phase(served, "socket", replays, duration)
        accepts = [sends.accept(item) for item in created]
        figures["accept"] = await _phase(served, "HTTP", accepts, duration)
    finally:
        pool.close()
        await sockets.close()
    return figures
