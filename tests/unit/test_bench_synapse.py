"""The Synapse comparison's pure parts: config, registration MAC, sync parsing, ratios, plot."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from bench.accounts import Device
from bench.compare import ratios
from bench.plot import latency_plot
from bench.report import tables
from bench.synapse.client import MEGOLM, megolm_content, registration_mac, timeline_filter
from bench.synapse.config import SERVER_NAME, homeserver_config, new_homeserver, write_config
from bench.synapse.database import database_section
from bench.synapse.install import SYNAPSE_VERSION, ensure_installed, installed_version
from bench.synapse.sync import encrypted_event_ids, sync_path
from bench.targets import synapse_verdict

# Every limit a benchmark could hit, as Synapse names them (dotted: nested keys).
RATE_LIMIT_KEYS = (
    "rc_message", "rc_registration", "rc_login.address", "rc_login.account",
    "rc_login.failed_attempts", "rc_joins.local", "rc_joins.remote", "rc_joins_per_room",
    "rc_invites.per_room", "rc_invites.per_user", "rc_invites.per_issuer", "rc_3pid_validation",
    "rc_admin_redaction", "rc_room_creation", "rc_key_requests", "rc_user_directory",
)  # fmt: skip


def _lookup(config: dict[str, Any], dotted: str) -> dict[str, Any]:
    value: Any = config
    for part in dotted.split("."):
        value = value[part]
    assert isinstance(value, dict)
    return value


def _config(tmp_path: Path, backend: str = "sqlite") -> dict[str, Any]:
    database = database_section(backend, tmp_path, "synapse_bench_db")
    return homeserver_config(new_homeserver(tmp_path, 8123, database))


def test_config_raises_every_rate_limit_far_above_a_benchmark_point(tmp_path: Path) -> None:
    config = _config(tmp_path)
    for key in RATE_LIMIT_KEYS:
        limit = _lookup(config, key)
        assert limit["per_second"] >= 100_000, key
        assert limit["burst_count"] >= 100_000, key


def test_config_listens_on_loopback_client_api_only_without_tls(tmp_path: Path) -> None:
    config = _config(tmp_path)
    (listener,) = config["listeners"]
    assert listener["port"] == 8123
    assert listener["bind_addresses"] == ["127.0.0.1"]
    assert listener["tls"] is False
    assert [r["names"] for r in listener["resources"]] == [["client"]]
    assert config["server_name"] == SERVER_NAME
    assert config["presence"] == {"enabled": False}
    assert config["url_preview_enabled"] is False
    assert config["report_stats"] is False
    assert config["trusted_key_servers"] == []
    assert len(config["registration_shared_secret"]) >= 32


def test_config_database_section_is_sqlite_file_or_fresh_postgresql(tmp_path: Path) -> None:
    sqlite = _config(tmp_path)["database"]
    assert sqlite == {"name": "sqlite3", "args": {"database": str(tmp_path / "homeserver.db")}}
    pg = _config(tmp_path, "postgresql")["database"]
    assert pg["name"] == "psycopg2"
    assert pg["args"]["database"] == "synapse_bench_db"
    assert (pg["args"]["host"], pg["args"]["port"], pg["args"]["user"]) == (
        "127.0.0.1", 5432, "postgres",
    )  # fmt: skip
    with pytest.raises(ValueError, match="unknown backend"):
        database_section("mysql", tmp_path, "x")


def test_write_config_writes_json_that_is_also_yaml_and_a_log_config(tmp_path: Path) -> None:
    homeserver = new_homeserver(tmp_path / "hs", 8123, database_section("sqlite", tmp_path, "x"))
    path = write_config(homeserver)
    written = json.loads(path.read_text())
    assert written["rc_message"]["per_second"] >= 100_000
    log_config = json.loads(Path(written["log_config"]).read_text())
    assert log_config["root"]["level"] == "WARNING"


def _hmac_sha1_by_definition(key: bytes, message: bytes) -> str:
    """RFC 2104: H((K ^ opad) || H((K ^ ipad) || m)) with a 64-byte block."""
    block = key.ljust(64, b"\x00")
    inner = hashlib.sha1(bytes(b ^ 0x36 for b in block) + message).digest()
    return hashlib.sha1(bytes(b ^ 0x5C for b in block) + inner).hexdigest()


def test_registration_mac_matches_hmac_sha1_over_nul_joined_fields() -> None:
    fields = b"abc123\x00bench-user\x00hunter2\x00notadmin"
    expected = "1efae80c0b92575e5497cba1c6b06f0698d76205"
    assert _hmac_sha1_by_definition(b"bench-secret", fields) == expected
    assert registration_mac("bench-secret", "abc123", "bench-user", "hunter2") == expected


def test_registration_mac_for_an_admin_signs_admin() -> None:
    expected = _hmac_sha1_by_definition(
        b"bench-secret", b"abc123\x00bench-user\x00hunter2\x00admin"
    )
    assert expected == "8cd5bd80e49fac3b9580bbb403b31ce8b7a811e3"
    assert registration_mac("bench-secret", "abc123", "bench-user", "hunter2", True) == expected


def test_megolm_content_carries_matrix_algorithm_and_a_real_ciphertext() -> None:
    content = megolm_content(Device("@a:bench.localhost", "DEVICEA", "token", "a"))
    assert content["algorithm"] == MEGOLM
    assert content["device_id"] == "DEVICEA"
    assert len(content["ciphertext"]) > 100
    assert {"sender_key", "session_id"} <= content.keys()


def test_timeline_filter_drops_everything_but_a_long_timeline() -> None:
    room = timeline_filter()["room"]
    assert room["timeline"]["limit"] >= 100
    assert room["state"]["not_types"] == ["*"]
    assert timeline_filter()["presence"] == {"not_types": ["*"]}


def test_sync_parsing_keeps_encrypted_timeline_events_of_joined_rooms() -> None:
    batch = {
        "next_batch": "s2",
        "rooms": {
            "join": {
                "!a:x": {"timeline": {"events": [
                    {"type": "m.room.encrypted", "event_id": "$1"},
                    {"type": "m.room.member", "event_id": "$2"},
                ]}},
                "!b:x": {"timeline": {"events": [{"type": "m.room.encrypted", "event_id": "$3"}]}},
            },
            "invite": {"!c:x": {"timeline": {"events": [
                {"type": "m.room.encrypted", "event_id": "$4"},
            ]}}},
        },
    }  # fmt: skip
    assert encrypted_event_ids(batch) == ["$1", "$3"]
    assert encrypted_event_ids({"next_batch": "s3"}) == []


def test_sync_path_chains_the_since_token_url_encoded() -> None:
    assert sync_path("7", None, 0) == "/_matrix/client/v3/sync?filter=7&timeout=0"
    assert sync_path("7", "s1_2 3").endswith("&timeout=30000&since=s1_2%203")


def test_install_is_skipped_when_the_stamp_names_the_pinned_version(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").write_text("")
    assert installed_version(tmp_path) is None
    (tmp_path / ".installed").write_text(SYNAPSE_VERSION + "\n")
    assert installed_version(tmp_path) == SYNAPSE_VERSION
    assert ensure_installed(tmp_path) == tmp_path / "bin" / "python"


def _point(mode: str, knob: float, per_s: float, cpu: float, p50: float = 10.0) -> dict[str, Any]:
    key = "concurrency" if mode == "closed" else "rate"
    return {
        "mode": mode, key: knob, "sent": 100, "delivered": 100, "errors": 0,
        "delivered_per_s": per_s, "p50_ms": p50, "p95_ms": p50 * 2, "p99_ms": p50 * 3,
        "server_cpu_ms_per_msg": cpu, "client_cpu_ms_per_msg": 0.1, "server_peak_rss_mib": 90.0,
    }  # fmt: skip


def _figures(courtyard_64: float) -> dict[str, Any]:
    relay = {"devices": 4, "conversations": 2, "points": [
        _point("closed", 1, 400.0, 1.0), _point("closed", 64, courtyard_64, 0.5),
        _point("open", 100, 100.0, 1.0, 5.0), _point("open", 1000, 990.0, 0.6, 8.0),
    ]}  # fmt: skip
    synapse = {"version": SYNAPSE_VERSION, "devices": 4, "conversations": 2, "points": [
        _point("closed", 1, 20.0, 30.0), _point("closed", 64, 100.0, 20.0),
        _point("open", 100, 60.0, 25.0, 3000.0), _point("open", 1000, 70.0, 22.0, 6000.0),
    ]}  # fmt: skip
    return {"relay": relay, "synapse": synapse}


def test_ratios_divide_courtyard_by_synapse_at_each_shared_concurrency() -> None:
    rows = ratios(_figures(3000.0))
    assert [r["concurrency"] for r in rows] == [1, 64]
    assert rows[0]["throughput_ratio"] == 20.0
    assert rows[1]["throughput_ratio"] == 30.0
    assert rows[1]["cpu_ratio"] == 40.0  # Synapse's 20 ms over Courtyard's 0.5 ms
    assert ratios({"relay": _figures(1.0)["relay"], "synapse": {"error": "boom"}}) == []


def _with_socket_points(figures: dict[str, Any], per_s: float) -> dict[str, Any]:
    socket = [
        {**_point("closed", 64, per_s, 0.2), "transport": "socket"},
        {**_point("open", 1000, 1000.0, 0.2, 2.0), "transport": "socket"},
    ]
    figures["relay"]["points"] = socket + figures["relay"]["points"]
    return figures


def test_ratios_set_each_courtyard_transport_against_synapse_over_http() -> None:
    rows = ratios(_with_socket_points(_figures(1000.0), 4000.0))
    assert [(r["transport"], r["concurrency"]) for r in rows] == [
        ("http", 1), ("http", 64), ("socket", 64),
    ]  # fmt: skip
    assert [r["throughput_ratio"] for r in rows] == [20.0, 10.0, 40.0]


def test_synapse_verdict_takes_courtyards_best_transport() -> None:
    verdict = synapse_verdict("sqlite", _with_socket_points(_figures(1000.0), 4000.0))
    assert verdict is not None
    assert "**met**" in verdict
    assert "sent over socket" in verdict


def test_synapse_verdict_is_met_at_thirty_times_and_missed_below() -> None:
    met = synapse_verdict("sqlite", _figures(3000.0))
    missed = synapse_verdict("sqlite", _figures(2999.0))
    assert met is not None
    assert "**met**" in met
    assert missed is not None
    assert "**missed**" in missed
    failed = synapse_verdict("sqlite", {"synapse": {"error": "RuntimeError('no pip')"}})
    assert failed is not None
    assert "not measured" in failed
    assert synapse_verdict("sqlite", {}) is None


def test_report_tables_show_synapse_and_the_ratio_table() -> None:
    text = tables({"backends": {"sqlite": _figures(3000.0)}})
    assert f"### Synapse {SYNAPSE_VERSION} relay on sqlite" in text
    assert "### Courtyard ÷ Synapse on sqlite" in text
    assert "| http | 64 | 3000 | 100 | 30 | 0.5 | 20 | 40 |" in text


def test_latency_plot_writes_a_png_from_open_loop_points(tmp_path: Path) -> None:
    postgresql = _with_socket_points(_figures(2000.0), 4000.0)
    result = {"backends": {"sqlite": _figures(3000.0), "postgresql": postgresql}}
    path = tmp_path / "docs" / "latency.png"
    assert latency_plot(result, path)
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_latency_plot_writes_nothing_without_open_loop_points(tmp_path: Path) -> None:
    path = tmp_path / "latency.png"
    assert not latency_plot({"backends": {"sqlite": {"synapse": {"error": "x"}}}}, path)
    assert not path.exists()


def test_a_re_run_replaces_only_its_workloads_and_says_so() -> None:
    from bench.run import merge

    relay, old, new = {"points": [1]}, {"connected": 5}, {"connected": 9}
    base: dict[str, Any] = {"meta": {"command": "first"}, "limit": {"ws_echo": [1]},
            "backends": {"sqlite": {"relay": relay, "connections": old}}}  # fmt: skip
    update = {"meta": {"command": "again", "started_at": "t", "wall_s": 1.0, "connections": 9},
              "backends": {"sqlite": {"connections": new}}}  # fmt: skip
    merged = merge(base, update)
    assert merged["backends"]["sqlite"] == {"relay": relay, "connections": new}
    assert merged["limit"] == {"ws_echo": [1]}
    assert merged["meta"]["updates"] == [
        {"command": "again", "started_at": "t", "wall_s": 1.0, "workloads": ["connections"],
         "connections": 9}
    ]  # fmt: skip
    assert base["backends"]["sqlite"]["connections"] == old  # not modified


def test_the_20000_device_verdict_knows_the_machines_file_limit() -> None:
    from bench.targets import _capacity_verdicts

    conn = {"connected": 19_900, "rss_before_mib": 230.0, "rss_connected_mib": 1286.0,
            "rss_per_connection_kib": 54.3, "idle_server_cpu_percent": 35.0}  # fmt: skip
    [capped] = _capacity_verdicts("sqlite", {"connections": conn}, nofile=20_000)
    assert "**met**" in capped
    assert "19,900" in capped
    [short] = _capacity_verdicts("sqlite", {"connections": {**conn, "connected": 6_000}}, 20_000)
    assert "**missed**" in short
    heavy = {**conn, "rss_per_connection_kib": 120.0}
    [too_big] = _capacity_verdicts("sqlite", {"connections": heavy}, nofile=20_000)
    assert "**missed**" in too_big


def test_fan_out_rounds_are_summed_up_the_same_way_for_both_servers() -> None:
    from bench.fanout import round_figures, summary

    full = round_figures([1.3, 1.1, 1.2], 3, sent_at=1.0, answered=1.05)
    assert full == {"devices_reached": 3, "send_answered_ms": 50.0, "first_ms": 100.0,
                    "median_ms": 200.0, "all_ms": 300.0}  # fmt: skip
    partial = round_figures([1.1], 3, sent_at=1.0, answered=1.05)
    assert partial["all_ms"] is None
    assert summary(3, 12.34, [full, partial])["median_all_ms"] == 300.0
