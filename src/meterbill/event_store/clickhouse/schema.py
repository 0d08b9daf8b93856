"""ClickHouse's own schema migrations: numbered SQL files, each applied once, recorded in
schema_migrations."""

from __future__ import annotations

from importlib import resources

from meterbill.event_store.clickhouse.connection import Connection


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("meterbill.event_store.clickhouse") / "migrations"
    names = sorted(item.name for item in folder.iterdir() if item.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), (folder / name).read_text()) for name in names]


def statements(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


def upgrade(connection: Connection) -> list[str]:
    """Apply the migrations not yet applied; return their versions."""
    connection.command(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version String, applied_at DateTime"
        " DEFAULT now()) ENGINE = MergeTree ORDER BY version"
    )
    done = {row[0] for row in connection.query("SELECT version FROM schema_migrations")}
    applied = []
    for version, script in migration_files():
        if version in done:
            continue
        for statement in statements(script):
            connection.command(statement)
        connection.command(
            "INSERT INTO schema_migrations (version) VALUES ({version:String})",
            {"version": version},
        )
        applied.append(version)
    return applied
