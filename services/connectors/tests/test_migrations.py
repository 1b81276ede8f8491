from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from connectors.db.models import SCHEMA, Base


async def test_hand_written_migrations_match_the_models(app, client) -> None:
    def diff(connection):
        context = MigrationContext.configure(
            connection,
            opts={
                "include_schemas": True,
                "version_table_schema": SCHEMA,
                "include_name": lambda name, type_, parent: (
                    name == SCHEMA if type_ == "schema" else True
                ),
                "compare_type": True,
            },
        )
        return compare_metadata(context, Base.metadata)

    async with app.state.runtime.engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == [], "\n".join(map(str, changes))
