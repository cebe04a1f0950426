"""`connect stack up` runs Elasticsearch unless told `--search opensearch`; both give the
stack's roles a CONNECT_SEARCH_URL of their own scheme. (The whole stack starts once per run,
on the default, in tests/integration/stack/test_stack.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from connect.cli import app
from stack.local import StackError, StackPaths, engines_for, stack_settings


def _up_params(*args: str) -> dict[str, object]:
    stack = typer.main.get_command(app).commands["stack"]  # type: ignore[attr-defined]
    return stack.commands["up"].make_context("connect stack up", list(args)).params


def test_elasticsearch_is_the_default_and_opensearch_a_choice() -> None:
    assert _up_params()["search"].value == "elasticsearch"
    assert _up_params("--search", "opensearch")["search"].value == "opensearch"
    with pytest.raises(Exception, match="solr"):
        _up_params("--search", "solr")
    assert engines_for("elasticsearch") == ("postgres", "redis", "kafka", "elasticsearch")
    assert engines_for("opensearch") == ("postgres", "redis", "kafka", "opensearch")
    with pytest.raises(StackError):
        engines_for("solr")


@pytest.mark.parametrize("search", ["elasticsearch", "opensearch"])
def test_the_search_url_names_the_cluster_that_runs(search: str, tmp_path: Path) -> None:
    urls = {"postgres": "postgresql+psycopg://postgres@127.0.0.1:5/connect", "redis": "redis://127.0.0.1:6/0",
            "kafka": "127.0.0.1:7", search: "http://127.0.0.1:9"}
    settings = stack_settings(StackPaths(tmp_path), urls, {}, 25, 8000, 8001)
    assert settings["CONNECT_SEARCH_URL"] == f"{search}+http://127.0.0.1:9"
