"""Launchers for the real engines (PostgreSQL, Redis, Kafka, Elasticsearch, OpenSearch, an SMTP sink).

Used by the test harness (tests/engines.py), ``connect stack up`` and the benchmarks; never by
the runtime. ``ENGINES`` is the one registry of them, by the name both use; importing this
package starts nothing and imports no engine module until ``engine_class`` asks for one, so
``python -m stack.engines.smtp`` and the CLI stay light.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Engine

# Engine name -> "module:class" inside this package.
ENGINES = {
    "postgres": "postgres:PostgresEngine",
    "redis": "redis:RedisEngine",
    "kafka": "kafka:KafkaEngine",
    "opensearch": "opensearch:OpenSearchEngine",
    "elasticsearch": "elasticsearch:ElasticsearchEngine",
    "smtp": "smtp:SmtpSinkEngine",
}


def _module(name: str) -> ModuleType:
    return importlib.import_module("." + ENGINES[name].partition(":")[0], __name__)


def engine_class(name: str) -> "type[Engine]":
    """The launcher class registered as ``name`` (``postgres``, ``redis``, ``kafka``, ...)."""
    return getattr(_module(name), ENGINES[name].partition(":")[2])


def fetch_all() -> None:
    """Download the jars of every engine that runs from Maven Central (and compile what the
    project adds to them) ahead of time: each such module has a ``fetch()``."""
    for name in ENGINES:
        fetch = getattr(_module(name), "fetch", None)
        if fetch is not None:
            fetch()
