"""The hand-written migrations and the models describe the same schema."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from conversations.db.models import SCHEMA, Base


async def test_migrations_match_the_models(app, client) -> None:
    def diff(connection):
        context = MigrationContext.configure(
            connection,
            opts={
                "include_schemas": True,
                "include_name": lambda name, kind, _: name == SCHEMA if kind == "schema" else True,
                "compare_type": True,
                "version_table_schema": SCHEMA,
            },
        )
        return compare_metadata(context, Base.metadata)

    async with app.state.runtime.engine.connect() as conn:
        assert await conn.run_sync(diff) == []
