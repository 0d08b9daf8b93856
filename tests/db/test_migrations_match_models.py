"""The migrations build exactly the schema the models declare: a column, index or
constraint added to a model without its migration (or the other way) fails here."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from meterbill.core.db import Database
from meterbill.models import Base, on_database


def test_the_migrated_schema_is_the_models_schema(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": on_database(connection.dialect.name)}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
