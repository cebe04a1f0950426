"""matching_0004 (the embedding cache) from a real earlier state: profiles stay, the cache works, and back."""

from __future__ import annotations

from datetime import datetime, timezone

from alembic import command
from sqlalchemy import inspect, text

from connect.bootstrap import build_container
from connect.settings import Settings


def test_embedding_cache_migration_keeps_profiles_and_goes_back(tmp_path):
    container = build_container(Settings(var_dir=tmp_path), services=("matching",))
    module = container.services["matching"]
    config = module.database.alembic_config(module.migrations)
    command.upgrade(config, "matching_0003")
    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    with module.database.engine.begin() as conn:
        conn.execute(text("INSERT INTO matching_members (member_id, name, email, active, updated_at) "
                          "VALUES ('M1', 'Ada', 'ada@example.org', 1, :now)"), {"now": now})
        conn.execute(text("INSERT INTO matching_mentor_profiles (member_id, profile, available, created_at, "
                          "updated_at, changed_at) VALUES ('M1', :profile, 1, :now, :now, :now)"),
                     {"now": now, "profile": '{"headline": "Claims lead", "bio": "", "expertise": ["claims"]}'})
    assert "matching_embeddings" not in inspect(module.database.engine).get_table_names()

    command.upgrade(config, "heads")
    service = module.facade
    assert service.get_mentor_profile("M1")["headline"] == "Claims lead"
    vectors = service.passage_vectors.vectors(["Claims lead"])  # embedded, then stored in the new table
    assert vectors["Claims lead"].shape == (service.embedder.dimensions,)
    assert service.passage_vectors.vectors(["Claims lead"], store=False)["Claims lead"].tobytes() \
        == vectors["Claims lead"].tobytes()
    assert service.passage_vectors.embedded == 1  # the second call read the cache

    command.downgrade(config, "matching_0003")
    assert "matching_embeddings" not in inspect(module.database.engine).get_table_names()
    assert service.get_mentor_profile("M1")["headline"] == "Claims lead"
    container.close()
