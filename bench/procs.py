"""Start the processes under test and read their CPU time and memory from ``/proc``."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

NOFILE = 262_144
STARTUP_TIMEOUT = 60.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def raise_fd_limit(limit: int = NOFILE) -> int:
    """Raise this process's open-file limit (children inherit it); returns the soft limit."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, max(hard, limit)))
    except (ValueError, OSError):  # unprivileged: as far as the hard limit allows
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def loop_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of the process's main thread (the event loop of an asyncio
    server, the reactor of Synapse); the rest of ``cpu_seconds`` is its other threads (SQLite
    connections, thread pools)."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak RSS) of a process, in KiB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def reset_peak_rss(pid: int) -> None:
    """Reset ``VmHWM`` to the current RSS (Linux ≥ 4.0), so each point reports its own peak."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


@dataclass
class Served:
    """A server process listening on ``port`` on 127.0.0.1."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _wait_ready(served: Served, path: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with httpx.Client(base_url=served.url, trust_env=False, timeout=1.0) as http:
        while time.monotonic() < deadline:
            if served.process.poll() is not None:
                raise RuntimeError(f"server exited: {served.log_path.read_text()[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                if http.get(path).status_code < 500:
                    return
            time.sleep(0.05)
    raise RuntimeError(f"server not ready in time: {served.log_path.read_text()[-3000:]}")


@contextlib.contextmanager
def serve(command: list[str], workdir: Path, port: int, ready_path: str) -> Iterator[Served]:
    """Run ``command`` (which listens on ``port``) until the block ends, then SIGTERM it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURTYARD_")}
    root = str(Path(__file__).resolve().parent.parent)  # so `-m bench.echo_app` resolves
    env.update(PYTHONUNBUFFERED="1", COURTYARD_LOG_LEVEL="WARNING", PYTHONPATH=root)
    log_path = workdir / f"server-{port}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    served = Served(process, port, log_path)
    try:
        _wait_ready(served, ready_path)
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def courtyard_command(port: int, database_url: str, data_dir: Path) -> list[str]:
    script = Path(sys.executable).parent / "courtyard"
    return [
        str(script), "serve", "--host", "127.0.0.1", "--port", str(port),
        "--db", database_url, "--bus", "memory://", "--data-dir", str(data_dir),
    ]  # fmt: skip


def echo_command(port: int) -> list[str]:
    return [sys.executable, "-m", "bench.echo_app", "--port", str(port)]
