import conversations.reminders.models  # noqa: F401  (its tables join Base.metadata)
from conversations.db.models import SCHEMA, Base
from shared.db.migrations import run_alembic_env

run_alembic_env(SCHEMA, Base.metadata)
