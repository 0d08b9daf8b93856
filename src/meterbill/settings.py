"""Configuration from METERBILL_* environment variables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from meterbill.webhooks.delivery import DeliveryOptions


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
    # Webhooks: attempts per delivery (Lago's LAGO_WEBHOOK_ATTEMPTS), seconds before a
    # send is abandoned (LAGO_WEBHOOK_TIMEOUT_SECONDS), days delivery records are kept,
    # sends in flight at once, and the JWT issuer (Lago's LAGO_API_URL).
    webhook_attempts: int = 3
    webhook_timeout_seconds: float = 30.0
    webhook_retention_days: int = 90
    webhook_concurrency: int = 32
    api_url: str = "http://localhost:3000"

    def delivery_options(self) -> DeliveryOptions:
        from meterbill.webhooks.delivery import DeliveryOptions

        return DeliveryOptions(
            attempts=self.webhook_attempts,
            timeout_seconds=self.webhook_timeout_seconds,
            issuer=self.api_url,
            concurrency=self.webhook_concurrency,
        )
