"""Configuration from METERBILL_* environment variables."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METERBILL_", extra="ignore")

    database_url: str = "sqlite:///./meterbill.db"
    api_key: str | None = None
    org_name: str = "Default organization"
    # The dashboard user the start-up bootstrap makes sure of (both or neither).
    admin_email: str | None = None
    admin_password: str | None = None
    host: str = "127.0.0.1"
    port: int = 3000
    # Server processes for `meterbill serve` (state lives in the database only); unset:
    # one per core on PostgreSQL (serving.default_workers), one on SQLite.
    workers: int | None = None
    # A pool large enough for the server's worker threads; PostgreSQL only.
    db_pool_size: int = 20
    log_level: str = "info"
    # How long a process trusts an API key it has checked before checking it again.
    api_key_cache_seconds: float = 30.0
    # Seconds between two runs of the clock (billing, finalization...) inside `serve`;
    # 0 turns it off, e.g. when `meterbill worker` processes run it instead.
    clock_interval_seconds: float = 60.0
    # Request bodies larger than this are refused with 413 before they are read whole.
    max_body_bytes: int = 1_048_576
