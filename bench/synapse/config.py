"""homeserver.yaml for a benchmark Synapse: loopback, no TLS or federation, no rate limits.

The file is written as JSON, which YAML parsers read as YAML, so the harness needs no YAML
library. Every ``rc_*`` limit is raised far above what a point can send: the benchmark
measures Synapse's throughput, not its throttling.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVER_NAME = "bench.localhost"
UNLIMITED = {"per_second": 1_000_000, "burst_count": 1_000_000}
# Each key Synapse 1.163 parses with RatelimitSettings (synapse/config/ratelimiting.py).
RATE_LIMITS: dict[str, Any] = {
    "rc_message": UNLIMITED,
    "rc_registration": UNLIMITED,
    "rc_registration_token_validity": UNLIMITED,
    "rc_login": {"address": UNLIMITED, "account": UNLIMITED, "failed_attempts": UNLIMITED},
    "rc_admin_redaction": UNLIMITED,
    "rc_joins": {"local": UNLIMITED, "remote": UNLIMITED},
    "rc_joins_per_room": UNLIMITED,
    "rc_key_requests": UNLIMITED,
    "rc_3pid_validation": UNLIMITED,
    "rc_invites": {"per_room": UNLIMITED, "per_user": UNLIMITED, "per_issuer": UNLIMITED},
    "rc_third_party_invite": UNLIMITED,
    "rc_media_create": UNLIMITED,
    "rc_presence": {"per_user": UNLIMITED},
    "rc_delayed_event_mgmt": UNLIMITED,
    "rc_room_creation": UNLIMITED,
    "rc_reports": UNLIMITED,
    "rc_user_directory": UNLIMITED,
    "rc_profile": UNLIMITED,
    "rc_federation": {
        "window_size": 1000,
        "sleep_limit": 1_000_000,
        "sleep_delay": 0,
        "reject_limit": 1_000_000,
        "concurrent": 1000,
    },
}
# Synapse's own log at WARNING, as `courtyard serve` runs in the harness (COURTYARD_LOG_LEVEL).
LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"level": "WARNING", "handlers": ["console"]},
    "disable_existing_loggers": False,
}
# Password hashing only costs set-up time (no measured request logs in); 4 is bcrypt's minimum.
BCRYPT_ROUNDS = 4


@dataclass(frozen=True)
class Homeserver:
    """Where one benchmark Synapse keeps its files, and what it listens on."""

    data_dir: Path
    port: int
    database: dict[str, Any]
    shared_secret: str

    @property
    def config_path(self) -> Path:
        return self.data_dir / "homeserver.yaml"


def new_homeserver(data_dir: Path, port: int, database: dict[str, Any]) -> Homeserver:
    return Homeserver(data_dir, port, database, secrets.token_hex(32))


def homeserver_config(server: Homeserver) -> dict[str, Any]:
    """The whole homeserver.yaml as a dict."""
    data = server.data_dir
    listener = {
        "port": server.port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
        "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}],
    }  # fmt: skip
    return {
        "server_name": SERVER_NAME,
        "public_baseurl": f"http://127.0.0.1:{server.port}/",
        "pid_file": str(data / "homeserver.pid"),
        "listeners": [listener],
        "database": server.database,
        "log_config": str(data / "log.config"),
        "media_store_path": str(data / "media_store"),
        "signing_key_path": str(data / "signing.key"),
        "registration_shared_secret": server.shared_secret,
        "macaroon_secret_key": secrets.token_hex(32),
        "form_secret": secrets.token_hex(32),
        "enable_registration": False,
        "bcrypt_rounds": BCRYPT_ROUNDS,
        "report_stats": False,
        "enable_metrics": False,
        "presence": {"enabled": False},
        "url_preview_enabled": False,
        "federation_domain_whitelist": [],
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        **RATE_LIMITS,
    }


def write_config(server: Homeserver) -> Path:
    """Write homeserver.yaml and its log config into ``server.data_dir``; returns the former."""
    server.data_dir.mkdir(parents=True, exist_ok=True)
    (server.data_dir / "log.config").write_text(json.dumps(LOG_CONFIG, indent=2) + "\n")
    server.config_path.write_text(json.dumps(homeserver_config(server), indent=2) + "\n")
    return server.config_path
