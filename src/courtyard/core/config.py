"""Settings from environment variables (``COURTYARD_*``) and an optional ``courtyard.toml``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from courtyard.core.currencies import is_holdable
from courtyard.core.errors import ConfigError

CONFIG_FILE_ENV = "COURTYARD_CONFIG"
DEFAULT_CONFIG_FILE = "courtyard.toml"


class Settings(BaseSettings):
    """Everything a server node needs to know at start; invalid values stop it at once."""

    model_config = SettingsConfigDict(env_prefix="COURTYARD_", extra="forbid", frozen=True)

    data_dir: Path = Field(default=Path("var"), description="Where local state lives.")
    database_url: str = Field(
        default="",
        description="sqlite+aiosqlite:///path or postgresql+asyncpg://…; default: SQLite "
        "file in data_dir.",
    )
    bus_url: str = Field(default="memory://", description="memory:// or nats://host:port")
    host: str = "127.0.0.1"
    port: int = Field(default=8470, ge=1, le=65535)
    log_level: str = "INFO"
    log_format: str = Field(default="json", pattern="^(json|text)$")
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Encrypted attachments are streamed to the blob store, not buffered (POST /v1/media).
    max_media_bytes: int = Field(default=25 * 1_048_576, ge=1_048_576)
    db_pool_size: int = Field(default=10, ge=1, le=500)
    # Login throttling: failures counted in a sliding window, per account and per address.
    login_window_seconds: int = Field(default=3600, ge=1)
    login_max_failures_per_account: int = Field(default=100, ge=1, le=100)
    login_max_failures_per_address: int = Field(default=1000, ge=1)
    # How long a long-poll or WebSocket waits before re-reading the stream without a bus hint:
    # the backstop that makes a lost bus message cost latency, never a fact. Hints are only
    # lost when the bus reconnects or drops a slow consumer, and both wake every reader at
    # once, so this can be long; each idle socket costs two reads per period (15 s made 2,000
    # idle devices keep a core busy).
    sync_recheck_seconds: float = Field(default=120.0, gt=0)
    # Due-time jobs (transfer refunds, provider checks): how often each node looks for work.
    due_poll_seconds: float = Field(default=1.0, gt=0)
    # Where the servers run (ISO 3166-1 alpha-2; "" = unknown, treated as not CN): a CN user
    # must consent to cross-border transfer unless it is CN (docs/privacy-consent.md).
    hosting_country: str = Field(default="", pattern="^([A-Za-z]{2})?$")

    # --- wallet (docs/wallet.md, "Configuration") ---------------------------------------
    wallet_currencies: list[str] = Field(default_factory=lambda: ["CNY", "EUR", "USD"])
    wallet_provider: str = Field(default="sandbox", pattern="^(sandbox|none)$")
    # Empty: the sandbox provider runs inside this process (make run, tests, one-node demos).
    wallet_provider_url: str = ""
    wallet_provider_api_key: str = "sandbox-api-key"
    wallet_provider_secret: str = Field(
        default="sandbox-callback-secret-change-me-0123456789", min_length=32
    )
    # Base URL the provider calls back; empty: http://{host}:{port}.
    wallet_public_url: str = ""
    wallet_pin_pepper_file: Path | None = None  # default: data_dir/wallet-pin-pepper
    # Ed25519 key (PKCS#8 PEM) that signs merchant QR codes; made 0600 on first start.
    wallet_qr_signing_key_file: Path | None = None  # default: data_dir/wallet-qr-signing-key
    # After a rotation: earlier signing keys whose codes still work; remove one to retire it.
    wallet_qr_previous_key_files: list[Path] = Field(default_factory=list)
    wallet_single_debit_limit_major: int = Field(default=50_000, ge=1)
    wallet_daily_debit_limit_major: int = Field(default=50_000, ge=1)
    wallet_transfer_expiry_hours: int = Field(default=24, ge=1)
    wallet_red_packet_cap_major: int = Field(default=200, ge=1)
    wallet_red_packet_max_shares: int = Field(default=100, ge=1, le=500)
    wallet_red_packet_expiry_hours: int = Field(default=24, ge=1)
    wallet_pin_max_failures: int = Field(default=5, ge=1)
    wallet_pin_lock_minutes: int = Field(default=15, ge=1)
    wallet_idempotency_days: int = Field(default=30, ge=1)
    wallet_refund_window_days: int = Field(default=365, ge=1)
    # Schedule the 10-minute ledger audit and the daily provider reconciliation at start (each
    # run then schedules the next). Tests that count due jobs turn it off.
    wallet_oversight_jobs: bool = True

    # --- user rights (docs/user-rights.md) -------------------------------------------------
    # Schedule the daily retention purge and re-check of held erasures at start (each run
    # then schedules the next day's). Tests that count due jobs turn it off.
    privacy_daily_jobs: bool = True

    # --- lawful-request desk (docs/legal-desk.md) ----------------------------------------
    # A TOML file that replaces the shipped rules (domains/legal/default_rules.toml) whole.
    legal_rules_path: Path | None = None
    # Ed25519 key (PKCS#8 PEM) that signs disclosure packages; made 0600 on first start.
    legal_signing_key_file: Path | None = None  # default: data_dir/legal-signing-key

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        elif CONFIG_FILE_ENV in os.environ:
            raise ConfigError(f"config file {toml_path} does not exist")
        return tuple(sources)

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        if not value:
            return value
        if value.startswith("sqlite:///"):
            value = "sqlite+aiosqlite:///" + value.removeprefix("sqlite:///")
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                value = "postgresql+asyncpg://" + value.removeprefix(prefix)
        if not value.startswith(("sqlite+aiosqlite:///", "postgresql+asyncpg://")):
            raise ValueError(
                "must start with sqlite:///, sqlite+aiosqlite:///, postgresql:// or "
                "postgresql+asyncpg://"
            )
        return value

    @field_validator("bus_url")
    @classmethod
    def _check_bus_url(cls, value: str) -> str:
        if value != "memory://" and not value.startswith(("nats://", "tls://")):
            raise ValueError("must be memory:// or nats://host:port")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return value

    @field_validator("wallet_currencies")
    @classmethod
    def _check_currencies(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("enable at least one currency")
        if bad := [code for code in value if not is_holdable(code)]:
            raise ValueError(f"not currencies a wallet can hold: {bad}")
        return sorted(set(value))

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            path = (self.data_dir / "courtyard.db").as_posix()
            object.__setattr__(self, "database_url", f"sqlite+aiosqlite:///{path}")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(**overrides: Any) -> Settings:
    """Build settings from overrides, environment and file; raise ``ConfigError`` if invalid."""
    clean = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**clean)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
