from connect.db import run_alembic_env
from services.relationships.adapters.orm import metadata

run_alembic_env(metadata)
