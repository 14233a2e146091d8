"""Idempotent transfers per second: funded users with PINs, 64 concurrent clients each
sending transfers with a fresh idempotency key over HTTP, every one answered after its
commit with the product path (escrow entry, chat card, refund job, stream rows). Then the
same keys replayed, and the transfers accepted (docs/wallet.md, "Benchmark")."""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bench.accounts import PASSWORD, Device, bounded, direct, register_many
from bench.measure import settle
from bench.procs import Served, cpu_seconds
from bench.profile import Profile
from bench.rawhttp import Pool

USERS = 100
CONCURRENCY = 64
PIN = "246810"
FUNDING = "20000.00"


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


def _transfer_body(to: Device) -> bytes:
    amount = random.randint(1, 100)
    return json.dumps(
        {
            "to_user_id": to.user_id,
            "amount": f"0.{amount:02d}" if amount < 100 else "1.00",
            "currency": "CNY",
            "pin": PIN,
        }
    ).encode()


Request = Callable[[Pool], Awaitable[tuple[int, bytes]]]


async def _phase(
    served: Served, requests: list[Request], duration_s: float | None
) -> dict[str, Any]:
    """Run ``requests`` from ``CONCURRENCY`` clients (until they run out, or for
    ``duration_s``); figures per request."""
    pool = Pool(served.port, CONCURRENCY)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = list(reversed(requests))
    deadline = time.perf_counter() + duration_s if duration_s else None

    async def client() -> None:
        while queue and (deadline is None or time.perf_counter() < deadline):
            send = queue.pop()
            started = time.perf_counter()
            status, _ = await send(pool)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1

    await settle(served.pid)
    cpu_before, started = cpu_seconds(served.pid), time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    wall, cpu = time.perf_counter() - started, cpu_seconds(served.pid) - cpu_before
    pool.close()
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {
        "requests": len(latencies),
        "per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "server_cpu_ms": round(1000 * cpu / max(1, len(latencies)), 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


async def run_wallet(served: Served, profile: Profile) -> dict[str, Any]:
    started = time.perf_counter()
    devices = await _setup(served)
    setup_s = round(time.perf_counter() - started, 1)
    print(f"  wallet: {USERS} users funded, with PINs and chats, in {setup_s} s", flush=True)
    sent: list[tuple[Device, Device, str, bytes, str]] = []  # sender, recipient, key, body, id

    def create(sender: Device, recipient: Device) -> Request:
        async def send(pool: Pool) -> tuple[int, bytes]:
            key, body = str(uuid.uuid4()), _transfer_body(recipient)
            status, answer = await pool.request(
                "POST", "/v1/wallet/transfers", body, sender.token, {"Idempotency-Key": key}
            )
            if status == 201:
                sent.append((sender, recipient, key, body, json.loads(answer)["transfer_id"]))
            return status, answer

        return send

    # Warm each sender's PIN (one argon2id per user and node), as a long-running node has.
    await _phase(served, [create(d, devices[(i + 1) % USERS]) for i, d in enumerate(devices)], None)
    sent.clear()
    duration = profile.bounds.duration_s * 5
    many = [create(d, devices[(i + 1) % USERS]) for i, d in enumerate(devices)] * 2000
    figures: dict[str, Any] = {"users": USERS, "concurrency": CONCURRENCY, "setup_s": setup_s}
    figures["create"] = await _phase(served, many, duration)

    def replay(item: tuple[Device, Device, str, bytes, str]) -> Request:
        sender, _, key, body, _ = item
        return lambda pool: pool.request(
            "POST", "/v1/wallet/transfers", body, sender.token, {"Idempotency-Key": key}
        )

    def accept(item: tuple[Device, Device, str, bytes, str]) -> Request:
        _, recipient, _, _, transfer_id = item
        path = f"/v1/wallet/transfers/{transfer_id}/accept"
        return lambda pool: pool.request("POST", path, b"", recipient.token)

    created = list(sent)
    figures["replay"] = await _phase(served, [replay(i) for i in created], duration)
    figures["accept"] = await _phase(served, [accept(i) for i in created], duration)
    return figures
