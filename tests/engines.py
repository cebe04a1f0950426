"""Real engines for the tests, each started at most once per test run.

A pytest plugin (registered in the repository's conftest.py) rather than a folder's conftest, so
that tests/integration and tests/contract share one broker, one cluster, one server.

Session fixtures: ``postgres_url``, ``redis_url``, ``kafka_bootstrap``, ``elasticsearch_url``,
``opensearch_url``, ``smtp_sink``; per test: ``pg_database`` (a fresh, empty database on the shared
server), ``relationships_pg_database`` (a fresh database with the relationships service's migrations
applied, cloned from a template migrated once per run: a copy costs a few tens of milliseconds,
running the migrations again would cost a second) and ``search_cluster`` (a test runs once on
Elasticsearch, once on OpenSearch).

Where an engine comes from, first match wins:

1. an explicit address in the environment: ``CONNECT_TEST_POSTGRES_URL``,
   ``CONNECT_TEST_REDIS_URL``, ``CONNECT_TEST_KAFKA_BOOTSTRAP``, ``CONNECT_TEST_ELASTICSEARCH_URL``,
   ``CONNECT_TEST_OPENSEARCH_URL``;
2. a container through testcontainers, only when a Docker daemon answers a ping
   (``CONNECT_TEST_DOCKER=0`` turns this off);
3. the local launchers of ``stack.engines`` (Debian packages and Maven Central jars; run
   ``deploy/install-system-deps.sh`` once on a fresh machine).

The SMTP sink always runs in-process. An engine that cannot start skips the tests needing it,
unless ``CONNECT_REQUIRE_ENGINES=1`` (set in CI): then they fail, with the engine's log tail.
Fixtures start nothing until a test asks for them, so ``-m "not integration"`` costs nothing.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from stack.engines import engine_class
from stack.engines.base import Engine, EngineError

log = logging.getLogger(__name__)

INTEGRATION_DIR = Path(__file__).resolve().parent / "integration"

_start_seconds: dict[str, tuple[str, float]] = {}
_docker: dict[str, bool] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees the whole session's items, not only this folder's: filter by path.
    for item in items:
        path = Path(str(item.path)).resolve()
        if INTEGRATION_DIR in path.parents:
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _start_seconds:
        parts = ["%s %s %.1fs" % (name, source, seconds) for name, (source, seconds) in sorted(_start_seconds.items())]
        terminalreporter.write_line("engines started: " + ", ".join(parts))


def engines_required() -> bool:
    return os.environ.get("CONNECT_REQUIRE_ENGINES", "").strip().lower() in ("1", "true", "yes")


def engine_unavailable(name: str, reason: str, log_tail: str = "") -> None:
    """Skip, or fail when CI demands every engine (``CONNECT_REQUIRE_ENGINES=1``)."""
    message = "%s unavailable: %s" % (name, reason)
    if log_tail:
        message = "%s\n--- %s log tail ---\n%s" % (message, name, log_tail)
    if engines_required():
        pytest.fail(message + "\n(CONNECT_REQUIRE_ENGINES=1: a missing engine fails the run)", pytrace=False)
    pytest.skip(message)


# --------------------------------------------------------------------------- docker (optional)


def _docker_answers() -> bool:
    if "answers" not in _docker:
        _docker["answers"] = _ping_docker()
    return _docker["answers"]


def _ping_docker() -> bool:
    if os.environ.get("CONNECT_TEST_DOCKER", "").strip().lower() in ("0", "no", "false"):
        return False
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - no client, no socket, no daemon: all mean "no docker"
        return False


def _container_class(module: str, name: str) -> Any:
    import importlib

    # testcontainers moved its modules under ``community`` in 4.x; older releases lack it.
    for path in ("testcontainers.community.%s" % module, "testcontainers.%s" % module):
        try:
            return getattr(importlib.import_module(path), name)
        except ImportError:
            continue
    raise ImportError("testcontainers has no %s.%s" % (module, name))


def _docker_postgres() -> tuple[Any, str]:
    container = _container_class("postgres", "PostgresContainer")(
        "postgres:16-alpine", username="postgres", password="postgres", dbname="connect", driver="psycopg"
    ).start()
    return container, container.get_connection_url()


def _docker_redis() -> tuple[Any, str]:
    container = _container_class("redis", "RedisContainer")("redis:7-alpine").start()
    return container, "redis://%s:%s/0" % (container.get_container_host_ip(), container.get_exposed_port(6379))


def _docker_kafka() -> tuple[Any, str]:
    container = _container_class("kafka", "KafkaContainer")().start()
    return container, container.get_bootstrap_server()


def _docker_elasticsearch() -> tuple[Any, str]:
    from stack.engines.elasticsearch import image

    container = _container_class("elasticsearch", "ElasticSearchContainer")(
        image(), mem_limit="1g").with_env("ES_JAVA_OPTS", "-Xms512m -Xmx512m").start()
    return container, "http://%s:%s" % (container.get_container_host_ip(), container.get_exposed_port(9200))


def _docker_opensearch() -> tuple[Any, str]:
    container = _container_class("opensearch", "OpenSearchContainer")("opensearchproject/opensearch:2.19.1").start()
    config = container.get_config()
    return container, "http://%s:%s" % (config["host"], config["port"])


# --------------------------------------------------------------------------- resolution


def _provide(
    request: pytest.FixtureRequest,
    name: str,
    env_var: str,
    docker_factory: Callable[[], tuple[Any, str]],
) -> str:
    """The engine's address: from ``env_var``, else a container, else the launcher registered
    as ``name`` in ``stack.engines``."""
    explicit = os.environ.get(env_var, "").strip()
    if explicit:
        _start_seconds[name] = ("env", 0.0)
        return explicit

    if _docker_answers():
        began = time.monotonic()
        try:
            container, url = docker_factory()
        except Exception as exc:  # noqa: BLE001 - fall back to the local launcher below
            log.warning("%s container did not start (%s); using the local launcher", name, exc)
        else:
            request.addfinalizer(container.stop)
            _start_seconds[name] = ("docker", time.monotonic() - began)
            return url

    engine: Engine = engine_class(name)()
    # Registered before start() so that even a half-started engine is torn down.
    request.addfinalizer(engine.stop)
    failure: tuple[str, str] | None = None
    try:
        engine.start()
    except EngineError as exc:
        failure = (str(exc.args[0]), exc.log_tail)
    except Exception as exc:  # noqa: BLE001 - report whatever stopped the engine
        failure = ("%s: %s" % (type(exc).__name__, exc), engine.log_tail())
    if failure is not None:
        # Outside the except block, so the report is the reason and log tail, not a chained traceback.
        engine_unavailable(name, *failure)
    _start_seconds[name] = ("local", engine.started_seconds or 0.0)
    return engine.url


def _sqlalchemy_postgres_url(url: str) -> str:
    # Accept libpq-style URLs from the environment; the project talks to PostgreSQL via psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@pytest.fixture(scope="session")
def postgres_url(request: pytest.FixtureRequest) -> str:
    """SQLAlchemy URL (``postgresql+psycopg://``) of a database on a real PostgreSQL server."""
    return _sqlalchemy_postgres_url(
        _provide(request, "postgres", "CONNECT_TEST_POSTGRES_URL", _docker_postgres)
    )


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest) -> str:
    """``redis://host:port/0`` of a real Redis server."""
    return _provide(request, "redis", "CONNECT_TEST_REDIS_URL", _docker_redis)


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> str:
    """Bootstrap address (``host:port``) of a real Kafka broker; topics auto-create."""
    return _provide(request, "kafka", "CONNECT_TEST_KAFKA_BOOTSTRAP", _docker_kafka)


@pytest.fixture(scope="session")
def elasticsearch_url(request: pytest.FixtureRequest) -> str:
    """``http://host:port`` of a real Elasticsearch 8.19 node (security off)."""
    return _provide(request, "elasticsearch", "CONNECT_TEST_ELASTICSEARCH_URL", _docker_elasticsearch)


@pytest.fixture(scope="session")
def opensearch_url(request: pytest.FixtureRequest) -> str:
    """``http://host:port`` of a real OpenSearch node (security off)."""
    return _provide(request, "opensearch", "CONNECT_TEST_OPENSEARCH_URL", _docker_opensearch)


@dataclass(frozen=True)
class SearchCluster:
    kind: str  # "elasticsearch" or "opensearch": the CONNECT_SEARCH_URL scheme
    url: str

    @property
    def search_url(self) -> str:
        """The ``CONNECT_SEARCH_URL`` that points Connect at this cluster."""
        return "%s+%s" % (self.kind, self.url)


@pytest.fixture(params=["elasticsearch", "opensearch"])
def search_cluster(request: pytest.FixtureRequest) -> SearchCluster:
    """Each distributed search engine in turn, on the session's node."""
    return SearchCluster(request.param, request.getfixturevalue("%s_url" % request.param))


@pytest.fixture(scope="session")
def smtp_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The in-process SMTP sink (``stack.engines.smtp.SmtpSink``); ``.url`` is ``smtp://host:port``.

    Shared by the whole run: call ``smtp_sink.clear()`` at the start of a test that counts mail.
    Accepted messages are also written as ``.eml`` files under pytest's temp folder.
    """
    from stack.engines.smtp import SmtpSink

    sink = SmtpSink(mail_dir=tmp_path_factory.mktemp("smtp-sink"))
    began = time.monotonic()
    failure = None
    try:
        sink.start()
    except Exception as exc:  # noqa: BLE001
        failure = "%s: %s" % (type(exc).__name__, exc)
    if failure is not None:
        engine_unavailable("smtp", failure)
    _start_seconds["smtp"] = ("in-process", time.monotonic() - began)
    yield sink
    sink.stop()


@pytest.fixture
def pg_database(postgres_url: str) -> Iterator[str]:
    """URL of a new, uniquely named database on the shared server, dropped after the test."""
    from stack.engines.postgres import create_database, drop_database

    name = "test_%s" % uuid.uuid4().hex[:16]
    url = create_database(postgres_url, name)
    try:
        yield url
    finally:
        drop_database(postgres_url, name)


@pytest.fixture(scope="session")
def _migrated_templates(postgres_url: str) -> Iterator[dict[str, str]]:
    """Per service, a database migrated once this run, to clone test databases from."""
    templates: dict[str, str] = {}
    yield templates
    from stack.engines.postgres import drop_database

    for name in templates.values():
        drop_database(postgres_url, name)


def _migrated_template(postgres_url: str, templates: dict[str, str], service: str) -> str:
    if service not in templates:
        from connect.db import Database
        from stack.engines.postgres import create_database

        name = "template_%s_%s" % (service, uuid.uuid4().hex[:8])
        database = Database(create_database(postgres_url, name), service)
        try:
            database.upgrade(Path(__file__).resolve().parents[1] / "services" / service / "migrations")
        finally:
            database.dispose()  # a template must have no sessions when it is copied
        templates[service] = name
    return templates[service]


def _clone_database(postgres_url: str, name: str, template: str) -> str:
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    from stack.engines.postgres import database_url

    libpq = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("create database {} template {}").format(sql.Identifier(name), sql.Identifier(template)))
    return database_url(postgres_url, name)


@pytest.fixture
def relationships_pg_database(postgres_url: str, _migrated_templates: dict[str, str]) -> Iterator[str]:
    """URL of a new database on the shared server holding the relationships service's schema."""
    from stack.engines.postgres import drop_database

    template = _migrated_template(postgres_url, _migrated_templates, "relationships")
    name = "test_%s" % uuid.uuid4().hex[:16]
    url = _clone_database(postgres_url, name, template)
    try:
        yield url
    finally:
        drop_database(postgres_url, name)


# --------------------------------------------------------------------------- Chromium (portal browser tests)
# A self-contained block: headless Chromium from Debian's package, driven by Playwright (no browser
# download). ``deploy/install-system-deps.sh`` installs it; ``CONNECT_TEST_CHROMIUM`` names another binary.

#: Headless, and nothing that reaches out: on a closed network Chromium's background connections
#: are refused many at a time. Root needs --no-sandbox.
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """A Playwright ``Browser`` on the machine's Chromium, started once per run."""
    import shutil

    path = os.environ.get("CONNECT_TEST_CHROMIUM", "").strip() or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        engine_unavailable("chromium", "no Chromium at %s (deploy/install-system-deps.sh installs it)" % path)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        engine_unavailable("chromium", "Playwright is not installed: %s" % exc)
    began = time.monotonic()
    playwright = sync_playwright().start()
    failure = None
    try:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
    except Exception as exc:  # noqa: BLE001 - report whatever stopped the browser
        failure = "%s: %s" % (type(exc).__name__, exc)
    if failure is not None:
        playwright.stop()
        engine_unavailable("chromium", failure)
    _start_seconds["chromium"] = ("local", time.monotonic() - began)
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()
