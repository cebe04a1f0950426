"""Fixtures every test may use: an embedded-shape container in a temp folder,
an HTTP client on it, and tokens from its development issuer."""

from __future__ import annotations

import logging
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Collection, Iterator

import pytest
from fastapi.testclient import TestClient

from connect.bootstrap import Container, ServiceModule, build_container, deliver_until_quiet
from connect.clock import MovableClock
from connect.settings import Settings


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A command run in-process (Typer's CliRunner) sets up logging as `connect` does: a root
    handler on the stderr of that invocation, closed once it returns.  Put the root logger back,
    or every later record (an SMTP server thread's, say) fails with "I/O operation on closed file"."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc))


class MigratedSqlite:
    """Per service, an embedded (SQLite) database migrated once this run, for test containers to
    start from a copy of: copying a file costs about a millisecond, running every service's
    migrations again cost about a second per container, several hundred times a run.  The
    migrations themselves stay tested (tests/system/test_migrations.py), and each template is
    migrated by the same code at the start of the run."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._templates: dict[str, Path] = {}

    def upgrade(self, container: Container, migrated: Collection[str] = ()) -> None:
        """What `container.upgrade_databases()` does, with a service's SQLite file that does not
        exist yet copied from its template instead of migrated.  A database that exists (a test's
        earlier state) or is not SQLite (PostgreSQL) is migrated as usual, unless its service is
        among `migrated`: a database cloned from one migrated this run (the harness's
        `relationships_pg_database`), whose upgrade would find nothing to do."""
        for module in container.services.values():
            if module.name in migrated:
                continue
            target = _sqlite_file(module)
            if target is None or target.exists():
                module.database.upgrade(module.migrations)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self._template(module), target)

    def _template(self, module: ServiceModule) -> Path:
        if module.name not in self._templates:
            from connect.db import Database

            path = self._folder / ("%s.db" % module.name)
            database = Database("sqlite:///%s" % path.as_posix(), module.database.service)
            try:
                database.upgrade(module.migrations)
            finally:
                database.dispose()  # the last connection's close folds the write-ahead log into the file
            if path.with_name(path.name + "-wal").exists():
                raise RuntimeError("the %s template kept a write-ahead log: a copy of the file alone would "
                                   "miss part of it" % module.name)
            self._templates[module.name] = path
        return self._templates[module.name]


def _sqlite_file(module: ServiceModule) -> Path | None:
    database = module.database
    if not database.is_sqlite:
        return None
    path = database.url.split("///", 1)[-1]
    return None if not path or path == ":memory:" else Path(path)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> MigratedSqlite:
    return MigratedSqlite(tmp_path_factory.mktemp("migrated-sqlite"))


@pytest.fixture
def make_container(tmp_path: Path, clock: MovableClock,
                   migrated_sqlite: MigratedSqlite) -> Iterator[Callable[..., Container]]:
    """Build a container, its databases at the latest revision; keyword arguments are settings
    overrides (e.g. database_url=...), `migrated` names the services whose given database
    is at the latest revision already, and `load_models=False` builds it as the processes that
    never search do (models load on first use)."""
    made: list[Container] = []

    def make(*, migrated: Collection[str] = (), load_models: bool = True, **overrides: Any) -> Container:
        overrides.setdefault("var_dir", tmp_path / "var")
        container = build_container(Settings(**overrides), clock=clock, load_models=load_models)
        migrated_sqlite.upgrade(container, migrated)
        made.append(container)
        return container

    yield make
    for container in made:
        container.close()


@pytest.fixture
def container(make_container: Callable[..., Container]) -> Container:
    return make_container()


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    """The whole embedded API, without background threads: tests drain relays and consumers themselves.
    Every response is checked against the published OpenAPI document (`tests/openapi_check.py`)."""
    from connect.web import create_app
    from tests.openapi_check import response_hook

    app = create_app(container)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        hook = response_hook(app)
        if hook is not None:
            test_client.event_hooks = {"request": [], "response": [hook]}
        yield test_client


@pytest.fixture
def served_api(container: Container) -> Iterator[str]:
    """The same app on a real socket (uvicorn in a thread): its base URL, for the distributed
    adapters that call another service over HTTP."""
    import threading
    import time

    import uvicorn

    from stack.engines.base import free_port
    from connect.web import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def token_for(container: Container) -> Callable[..., str]:
    def mint(member_id: str, name: str | None = None, email: str | None = None, roles: list[str] | None = None,
             **kwargs: Any) -> str:
        assert container.dev_issuer is not None
        return container.dev_issuer.mint(member_id, name or f"Member {member_id}",
                                         email or f"{member_id.lower()}@example.org", roles=roles, **kwargs)

    return mint


@pytest.fixture
def auth(token_for: Callable[..., str]) -> Callable[..., dict[str, str]]:
    """`auth("M1")` -> headers carrying a valid token for member M1."""

    def headers(member_id: str, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(member_id, **kwargs)}"}

    return headers


def deliver_events(container: Container, roles: set[str] | None = None, rounds: int = 5) -> int:
    """Run relays and consumers until nothing moves: the embedded shape's background work, on demand."""
    return deliver_until_quiet(container, roles, rounds)


@pytest.fixture
def deliver(container: Container) -> Callable[..., int]:
    return lambda roles=None: deliver_events(container, roles)
