"""Configuration from METERBILL_* environment variables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from meterbill.clock import ClockOptions
    from meterbill.documents.links import LinkSettings
    from meterbill.documents.storage import LocalStorage
    from meterbill.payment_providers.options import ProviderOptions
    from meterbill.webhooks.delivery import DeliveryOptions


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METERBILL_", extra="ignore")

    database_url: str = "sqlite:///./meterbill.db"
    # Where usage events live: unset, the database above; clickhouse://user:pass@host:8123/db
    # (or https://) for ClickHouse, which then holds events and their aggregates only.
    events_url: str | None = None
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
    # `serve` and `worker` write their logs as text (readable in a terminal, and the
    # first start's key can be pasted from it) or as JSON lines, one object a line with
    # the request id, for a log store.
    log_format: str = "text"
    # With a token, GET /metrics answers only `Authorization: Bearer <token>`.
    metrics_token: str | None = None
    # `meterbill worker` serves its own /metrics on this port (unset: none).
    metrics_port: int | None = None
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
    # Days before ending_at that subscription.termination_alert is sent, comma-separated
    # (Lago's LAGO_SUBSCRIPTION_TERMINATION_ALERT_SENT_AT_DAYS).
    subscription_termination_alert_days: str = "15,45"
    # Turns off the hourly events.errors report (Lago's LAGO_DISABLE_EVENTS_VALIDATION).
    disable_events_validation: bool = False

    # Documents: where their files are kept (default: beside the SQLite file, or
    # ./storage for a server database), the address clients reach meterbill at for
    # `file_url` (default: api_url), and how long a signed link stays valid.
    storage_dir: str | None = None
    public_url: str | None = None
    document_link_days: int = 7
    # No document is made at finalization (Lago's LAGO_DISABLE_PDF_GENERATION); a
    # download still asks for one.
    disable_pdf_generation: bool = False

    # Payment providers: the Fernet key their secrets are encrypted with (generate one
    # with `meterbill encryption-key`; without it nothing can be connected), another
    # address for Stripe's API (a proxy, a test double), and the quick retries of one
    # call (later ticks retry what still fails, with backoff).
    encryption_key: str | None = None
    stripe_api_base: str | None = None
    stripe_network_retries: int = 2

    def provider_options(self) -> ProviderOptions:
        from meterbill.payment_providers.options import ProviderOptions

        return ProviderOptions(
            encryption_key=self.encryption_key,
            stripe_api_base=self.stripe_api_base,
            network_retries=self.stripe_network_retries,
            public_url=self.public_url or self.api_url,
            register_webhooks=self.public_url is not None,
        )

    def storage(self) -> LocalStorage:
        from pathlib import Path

        from meterbill.documents.storage import LocalStorage, default_storage_dir

        folder = Path(self.storage_dir) if self.storage_dir else None
        return LocalStorage(folder or default_storage_dir(self.database_url))

    def configure_documents(self) -> None:
        """Per process: links' address and lifetime, and whether finalization queues
        documents."""
        from meterbill.documents import links, service

        links.configure(self.link_settings())
        service.configure(enabled=not self.disable_pdf_generation)

    def link_settings(self) -> LinkSettings:
        from datetime import timedelta

        from meterbill.documents.links import LinkSettings

        return LinkSettings(
            public_url=self.public_url or self.api_url,
            lifetime=timedelta(days=self.document_link_days),
        )

    def clock_options(self) -> ClockOptions:
        from datetime import timedelta

        from meterbill.clock import ClockOptions
        from meterbill.subscriptions.alerts import parse_days

        return ClockOptions(
            webhook_retention=timedelta(days=self.webhook_retention_days),
            termination_alert_days=parse_days(self.subscription_termination_alert_days),
            validate_events=not self.disable_events_validation,
            payments=self.provider_options(),
        )

    def delivery_options(self) -> DeliveryOptions:
        from meterbill.webhooks.delivery import DeliveryOptions

        return DeliveryOptions(
            attempts=self.webhook_attempts,
            timeout_seconds=self.webhook_timeout_seconds,
            issuer=self.api_url,
            concurrency=self.webhook_concurrency,
        )
