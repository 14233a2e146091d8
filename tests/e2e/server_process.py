"""Run ``courtyard serve`` as a real process for end-to-end tests.

``ServerProcess`` starts a node on a port of its own with the database, bus and data
directory it is given, waits until ``/health`` answers, and stops it gracefully (SIGTERM,
then SIGKILL) or crashes it (``kill()``). Its output goes to a log file that a failing test
can show. Several nodes may share one database (pass the same ``database_url``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
LOG_TAIL_CHARS = 4000


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def courtyard_command() -> list[str]:
    """The ``courtyard`` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "courtyard"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from courtyard.cli.main import main; main()"]


def clean_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any ``COURTYARD_*`` settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURTYARD_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class ServerProcess:
    """One ``courtyard serve`` node.

    Args:
        data_dir: The node's data directory; also its working directory, so no stray
            ``courtyard.toml`` is picked up.
        database_url: Defaults to a SQLite file in ``data_dir``.
        bus_url: ``memory://`` or ``nats://host:port``.
        port: Defaults to a free port, kept across restarts.
        env: Extra environment variables (e.g. ``COURTYARD_SYNC_RECHECK_SECONDS``).
        log_path: Where stdout and stderr go; defaults to ``data_dir/server-<port>.log``.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        database_url: str | None = None,
        bus_url: str = "memory://",
        host: str = "127.0.0.1",
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
    ) -> None:
        self.data_dir = data_dir
        self.database_url = database_url or f"sqlite:///{data_dir / 'courtyard.db'}"
        self.bus_url = bus_url
        self.host = host
        self.port = port or free_port(host)
        self.env = dict(env or {})
        self.log_path = log_path or data_dir / f"server-{self.port}.log"
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command(self) -> list[str]:
        return [
            *courtyard_command(), "serve",
            "--host", self.host, "--port", str(self.port),
            "--db", self.database_url, "--bus", self.bus_url, "--data-dir", str(self.data_dir),
        ]  # fmt: skip

    def start(self) -> ServerProcess:
        """Start the node and wait until it answers ``/health``."""
        if self.running:
            raise RuntimeError(f"the server on port {self.port} is already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"--- starting: {' '.join(self.command())}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.data_dir,
                env=clean_environment(self.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C meant for pytest does not reach it first
            )
        self.wait_healthy()
        return self

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client(base_url=self.url, trust_env=False, timeout=1.0) as http:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    raise RuntimeError(f"the server exited during start-up:\n{self.log_tail()}")
                with contextlib.suppress(httpx.TransportError):
                    if http.get("/health").status_code == 200:
                        return
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"the server did not become healthy in time:\n{self.log_tail()}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Ask the node to shut down (SIGTERM); SIGKILL it if it takes longer than ``timeout``.

        Returns its exit status (None if it was not running).
        """
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self._reap()

    def kill(self) -> int | None:
        """Crash the node (SIGKILL): no shutdown code runs, as after a power cut."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        return self._reap()

    def restart(self, *, crash: bool = False) -> ServerProcess:
        """Stop (or with ``crash``, kill) the node and start it again on the same port."""
        if crash:
            self.kill()
        else:
            self.stop()
        return self.start()

    def _reap(self) -> int | None:
        assert self.process is not None
        status = self.process.returncode
        self.process = None
        return status

    def logs(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self) -> str:
        return self.logs()[-LOG_TAIL_CHARS:]

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def server_process(data_dir: Path, **options: Any) -> Iterator[ServerProcess]:
    """A started ``ServerProcess`` (see its arguments), stopped on exit."""
    with ServerProcess(data_dir, **options) as server:
        yield server
