from shared.db.migrations import run_alembic_env
from workspaces.db.models import SCHEMA, Base

run_alembic_env(SCHEMA, Base.metadata)
