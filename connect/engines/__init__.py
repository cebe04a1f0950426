"""Launchers for the real engines (PostgreSQL, Redis, Kafka, OpenSearch, an SMTP sink).

Used by the integration-test fixtures (tests/engines.py) and by ``connect stack up``.
Importing this package starts nothing and imports no engine module until a name is used, so
``python -m connect.engines.smtp`` and the CLI stay light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Engine": "base",
    "EngineError": "base",
    "engines_cache_dir": "base",
    "free_port": "base",
    "PostgresEngine": "postgres",
    "create_database": "postgres",
    "drop_database": "postgres",
    "database_url": "postgres",
    "RedisEngine": "redis",
    "KafkaEngine": "kafka",
    "OpenSearchEngine": "opensearch",
    "SmtpSink": "smtp",
    "SmtpSinkEngine": "smtp",
    "ReceivedMessage": "smtp",
}

# Engine classes by the name ``connect stack`` uses for them.
ENGINE_CLASSES = {
    "postgres": "PostgresEngine",
    "redis": "RedisEngine",
    "kafka": "KafkaEngine",
    "opensearch": "OpenSearchEngine",
    "smtp": "SmtpSinkEngine",
}

__all__ = sorted([*_EXPORTS, "ENGINE_CLASSES", "engine_class", "fetch_all"])

if TYPE_CHECKING:
    from .base import Engine, EngineError, engines_cache_dir, free_port
    from .kafka import KafkaEngine
    from .opensearch import OpenSearchEngine
    from .postgres import PostgresEngine, create_database, database_url, drop_database
    from .redis import RedisEngine
    from .smtp import ReceivedMessage, SmtpSink, SmtpSinkEngine


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError("module %r has no attribute %r" % (__name__, name))
    value = getattr(importlib.import_module("." + module, __name__), name)
    globals()[name] = value
    return value


def engine_class(name: str) -> type:
    """The launcher class for ``postgres``, ``redis``, ``kafka``, ``opensearch`` or ``smtp``."""
    return __getattr__(ENGINE_CLASSES[name])


def fetch_all() -> None:
    """Download the Java engines' jars (and compile the OpenSearch launcher) ahead of time."""
    from . import kafka, opensearch

    kafka.fetch()
    opensearch.fetch()

