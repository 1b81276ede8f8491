from gateway.db.models import SCHEMA, Base
from shared.db.migrations import run_alembic_env

run_alembic_env(SCHEMA, Base.metadata)
