from connect.db import run_alembic_env
from services.matching.adapters.orm import metadata

run_alembic_env(metadata)
