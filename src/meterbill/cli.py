"""Command line: serve, migrate, and organization / API key administration."""

from __future__ import annotations

from typing import Annotated

import typer

from meterbill import event_store, serving
from meterbill.core.db import Database
from meterbill.core.times import utc_now
from meterbill.migrations.runner import upgrade
from meterbill.settings import Settings

app = typer.Typer(help="meterbill: usage-based billing with a Lago-compatible API.")
org_app = typer.Typer(help="Organizations and their API keys.")
app.add_typer(org_app, name="org")
user_app = typer.Typer(help="Dashboard users.")
app.add_typer(user_app, name="user")


@app.command()
def migrate() -> None:
    """Apply every pending database migration."""
    settings = Settings()
    upgrade(settings.database_url)
    typer.echo("database is up to date")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Apply migrations before serving.")
    ] = True,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Server processes (default METERBILL_WORKERS, else one per core up to 4 on "
            "PostgreSQL, one on SQLite)."
        ),
    ] = None,
) -> None:
    """Serve the API on HOST:PORT."""
    from meterbill.operations import logs

    settings = Settings()
    processes = workers or settings.workers or serving.default_workers(settings.database_url)
    # Before anything imports prometheus_client: its mode is chosen at import.
    metrics_folder = serving.metrics_directory(processes)
    log_config = logs.configure(settings.log_format, settings.log_level)
    from meterbill.app import bootstrap

    if migrate_first:
        upgrade(settings.database_url)
    # Bootstrap once here, so that several workers starting together cannot each
    # create a first organization; their own start-up bootstrap then finds it.
    db = Database(settings.database_url, pool_size=1)
    bootstrap(db, settings, f"http://{host or settings.host}:{port or settings.port}/")
    db.dispose()
    # Each server process builds its own app from the same METERBILL_* environment.
    try:
        serving.serve(
            host or settings.host, port or settings.port, processes, settings.log_level, log_config
        )
    finally:
        serving.remove_metrics_directory(metrics_folder)


@app.command()
def tick(
    now: Annotated[
        str | None, typer.Option(help="ISO 8601 instant to run the jobs as of (default: now).")
    ] = None,
) -> None:
    """Run the periodic jobs once: activations, terminations, billing, finalization..."""
    from meterbill.clock import tick as run_tick
    from meterbill.core.dates import parse_instant

    moment = parse_instant(now) if now else utc_now()
    if moment is None:
        raise typer.BadParameter("not an ISO 8601 instant", param_hint="--now")
    settings = Settings()
    settings.configure_documents()
    db = Database(settings.database_url, pool_size=1)
    event_store.configure(settings, db)
    report = run_tick(db, moment, options=settings.clock_options())
    db.dispose()
    typer.echo(
        f"activated {len(report.activated)}, terminated {len(report.terminated)}, "
        f"downgraded {len(report.downgraded)}, invoices {len(report.billing.invoices)}, "
        f"retried {len(report.billing.retried)}, finalized {len(report.billing.finalized)}, "
        f"overdue {len(report.overdue)}, failures {len(report.failures)}"
    )
    # Failures are reported, not fatal: the other units were done (exit status 0).
    for failure in report.failures:
        ids = ", ".join(f"{key} {value}" for key, value in failure.ids.items())
        typer.echo(f"failed: {failure.job} ({ids}): {failure.error}")


@app.command()
def worker(
    interval: Annotated[
        float | None,
        typer.Option(help="Seconds between ticks (default METERBILL_CLOCK_INTERVAL_SECONDS)."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve /metrics on this port (default METERBILL_METRICS_PORT; none)."),
    ] = None,
) -> None:
    """Run the clock in a loop, deliver webhooks and make documents; several workers
    may run at once against one PostgreSQL."""
    import signal
    import threading

    from meterbill.clock_runner import run_forever
    from meterbill.documents.worker import DocumentLoop
    from meterbill.operations import database, logs, telemetry
    from meterbill.webhooks.delivery import DeliveryLoop

    settings = Settings()
    logs.configure(settings.log_format, settings.log_level)
    settings.configure_documents()
    db = Database(settings.database_url, pool_size=4)
    database.watch_pool(db.engine)
    port = metrics_port if metrics_port is not None else settings.metrics_port
    if port is not None:
        backlog = telemetry.Backlog(lambda: database.backlog(db, utc_now()))
        telemetry.serve_metrics(port, settings.host, [backlog])
    event_store.configure(settings, db)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    delivery = DeliveryLoop(db, settings.delivery_options(), utc_now)
    delivery.start()
    documents = DocumentLoop(db, settings.storage(), utc_now)
    documents.start()
    run_forever(db, interval or settings.clock_interval_seconds or 60.0, stop, settings)
    documents.stop()
    delivery.stop()
    db.dispose()


@app.command("encryption-key")
def encryption_key() -> None:
    """Print a new key for METERBILL_ENCRYPTION_KEY (payment providers' secrets are
    stored encrypted with it; keep it: what was stored cannot be read without it)."""
    from meterbill.payment_providers.secrets import generate_key

    typer.echo(generate_key())


@org_app.command("create")
def create_org(name: Annotated[str, typer.Argument(help="The organization's name.")]) -> None:
    """Create an organization and print its first API key (shown only once)."""
    from meterbill.organizations.service import add_api_key, create_organization

    db = Database(Settings().database_url, pool_size=1)
    now = utc_now()
    with db.transaction() as session:
        organization = create_organization(session, name, now)
        key = add_api_key(session, organization.id, now)
    typer.echo(f"organization {organization.id}")
    typer.echo(f"api key {key}")
    db.dispose()


@org_app.command("add-key")
def add_key(organization_id: Annotated[str, typer.Argument(help="The organization id.")]) -> None:
    """Create one more API key for an organization and print it (shown only once)."""
    import uuid

    from meterbill.organizations.service import add_api_key, get_organization

    db = Database(Settings().database_url, pool_size=1)
    now = utc_now()
    with db.transaction() as session:
        organization = get_organization(session, uuid.UUID(organization_id))
        key = add_api_key(session, organization.id, now)
    typer.echo(f"api key {key}")
    db.dispose()


@user_app.command("create")
def create_user_command(
    email: Annotated[str, typer.Argument(help="The user's e-mail address (the login).")],
    org: Annotated[str, typer.Option("--org", help="The id of the user's organization.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a dashboard user in an organization (asks for the password)."""
    import sys
    import uuid

    from meterbill.core.errors import MeterbillError, ValidationFailed
    from meterbill.users.service import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        organization_id = uuid.UUID(org)
    except ValueError:
        raise typer.BadParameter("not an organization id", param_hint="--org") from None
    db = Database(Settings().database_url, pool_size=1)
    try:
        with db.transaction() as session:
            user = create_user(session, organization_id, email, password, utc_now())
    except ValidationFailed as exc:
        typer.echo(f"refused: {_refusal(exc.details)}", err=True)
        raise typer.Exit(1) from None
    except MeterbillError as exc:
        typer.echo(f"refused: {exc.code}", err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    typer.echo(f"user {user.email} created in organization {organization_id}")


def _refusal(details: dict[str, list[str]]) -> str:
    words = {
        "invalid_format": "is not an e-mail address",
        "value_is_too_short": "is too short (8 characters at least)",
        "value_already_exist": "is already taken",
    }
    return "; ".join(
        f"{field} {words.get(code, code)}" for field, codes in details.items() for code in codes
    )


def main() -> None:
    app(prog_name="meterbill")
