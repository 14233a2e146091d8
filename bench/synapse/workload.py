"""The ``synapse`` workload: relay, then fan-out, each on a fresh Synapse; errors recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.profile import Profile
from bench.synapse.fanout import run_synapse_fanout
from bench.synapse.relay import run_synapse_relay
from bench.synapse.server import synapse


async def run_synapse(workdir: Path, backend: str, profile: Profile) -> dict[str, Any]:
    """Synapse's relay figures on ``backend`` with its fan-out under ``"fanout"``.

    Either part that cannot run (Synapse not installable, not starting, failing mid-run) is
    recorded as ``{"error": ...}`` and the harness goes on with the next workload.
    """
    try:
        async with synapse(workdir, backend, "relay") as running:
            result = await run_synapse_relay(running, profile)
    except Exception as exc:  # Synapse missing or broken must not end Courtyard's run
        print(f"synapse relay on {backend}: {exc!r}", flush=True)
        return {"error": repr(exc)}
    try:
        async with synapse(workdir, backend, "fanout") as running:
            result["fanout"] = await run_synapse_fanout(running, profile)
    except Exception as exc:
        print(f"synapse fan-out on {backend}: {exc!r}", flush=True)
        result["fanout"] = {"error": repr(exc)}
    return result
