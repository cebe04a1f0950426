"""A private Redis server from the Debian package, on a free loopback port, without persistence."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Sequence

from .base import EngineError, PortEngine, install_hint


def find_redis_server() -> str:
    """``CONNECT_REDIS_SERVER``, else ``redis-server`` on PATH, else Debian's."""
    configured = os.environ.get("CONNECT_REDIS_SERVER")
    if configured:
        if os.access(configured, os.X_OK):
            return configured
        raise EngineError(install_hint("redis-server", "redis-server") + " (CONNECT_REDIS_SERVER=%s is no program)"
                          % configured)
    found = shutil.which("redis-server")
    if found is None and os.access("/usr/bin/redis-server", os.X_OK):
        found = "/usr/bin/redis-server"
    if found is None:
        raise EngineError(install_hint("redis-server", "redis-server"))
    return found


class RedisEngine(PortEngine):
    """``redis-server`` on ``host:port``; ``url`` is ``redis://127.0.0.1:<port>/0``.

    ``persist=True`` keeps an append-only file in the data folder (for ``connect stack up``);
    tests run without any persistence.
    """

    name = "redis"
    stop_grace = 10.0
    default_startup_timeout = 30.0

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, *, persist: bool = False,
                 executable: str | None = None, **options: Any) -> None:
        """``options``: ``port`` and those of every engine (``detached``, ``startup_timeout``, ``host``)."""
        super().__init__(data_dir, **options)
        self.persist = persist
        self.executable = executable

    @classmethod
    def preflight(cls, data_dir: Path) -> None:
        find_redis_server()

    def _prepare(self) -> None:
        if self.executable is None:
            self.executable = find_redis_server()
        super()._prepare()

    def _command(self) -> Sequence[str]:
        assert self.root is not None
        return [
            self.executable,  # type: ignore[list-item]
            "--port",
            str(self.port),
            "--bind",
            self.host,
            "--dir",
            str(self.root),
            "--save",
            "",
            "--appendonly",
            "yes" if self.persist else "no",
            "--daemonize",
            "no",
            "--logfile",
            "",
            "--loglevel",
            "warning",
        ]

    def _build_url(self) -> str:
        return "redis://%s:%s/0" % (self.host, self.port)

    def _ready(self) -> bool:
        import redis

        client = redis.Redis(host=self.host, port=self.port, socket_timeout=2, socket_connect_timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()

    def _state_settings(self) -> dict[str, Any]:
        return {**super()._state_settings(), "persist": self.persist}

    def _restore_settings(self, settings: dict[str, Any]) -> None:
        super()._restore_settings(settings)
        self.persist = bool(settings.get("persist"))
