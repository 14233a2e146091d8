"""Settings: defaults, environment, TOML file, and clear errors for invalid values."""

from __future__ import annotations

from pathlib import Path

import pytest

from courtyard.core.config import load_settings
from courtyard.core.errors import ConfigError


def test_defaults_put_sqlite_under_the_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///var/courtyard.db"
    assert settings.bus_url == "memory://"
    assert settings.is_sqlite


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURTYARD_DATABASE_URL", "postgresql://postgres@db/courtyard")
    monkeypatch.setenv("COURTYARD_BUS_URL", "nats://127.0.0.1:4222")
    monkeypatch.setenv("COURTYARD_PORT", "9000")
    settings = load_settings()
    assert settings.database_url == "postgresql+asyncpg://postgres@db/courtyard"
    assert settings.bus_url == "nats://127.0.0.1:4222"
    assert settings.port == 9000


def test_toml_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "courtyard.toml"
    config.write_text('port = 9100\nbus_url = "nats://127.0.0.2:4222"\n')
    monkeypatch.setenv("COURTYARD_CONFIG", str(config))
    settings = load_settings()
    assert settings.port == 9100
    assert settings.bus_url == "nats://127.0.0.2:4222"


def test_environment_wins_over_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "courtyard.toml"
    config.write_text("port = 9100\n")
    monkeypatch.setenv("COURTYARD_CONFIG", str(config))
    monkeypatch.setenv("COURTYARD_PORT", "9200")
    assert load_settings().port == 9200


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("database_url", "mysql://x", "database_url"),
        ("bus_url", "redis://x", "bus_url"),
        ("port", 70000, "port"),
        ("log_level", "LOUD", "log_level"),
    ],
)
def test_invalid_values_fail_with_a_clear_message(field: str, value: object, fragment: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(**{field: value})
    assert fragment in raised.value.detail


def test_unknown_keys_in_the_file_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "courtyard.toml"
    config.write_text("prot = 1\n")
    monkeypatch.setenv("COURTYARD_CONFIG", str(config))
    with pytest.raises(ConfigError, match="prot"):
        load_settings()


def test_a_named_config_file_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COURTYARD_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings()
