"""A private Redis server from the Debian package, on a free loopback port, without persistence."""

from __future__ import annotations

import os
import shutil
from typing import Any, Sequence

from .base import Engine, EngineError


class RedisEngine(Engine):
    """``redis-server`` on ``host:port``; ``url`` is ``redis://127.0.0.1:<port>/0``.

    ``persist=True`` keeps an append-only file in the data folder (for ``connect stack up``);
    tests run without any persistence.
    """

    name = "redis"
    stop_grace = 10.0
    default_startup_timeout = 30.0

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        port: int | None = None,
        persist: bool = False,
        executable: str | None = None,
        detached: bool = False,
        startup_timeout: float | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(data_dir, detached=detached, startup_timeout=startup_timeout, host=host)
        self.port = port
        self.persist = persist
        self.executable = executable

    def _prepare(self) -> None:
        if self.executable is None:
            self.executable = os.environ.get("CONNECT_REDIS_SERVER") or shutil.which("redis-server")
            if self.executable is None and os.access("/usr/bin/redis-server", os.X_OK):
                self.executable = "/usr/bin/redis-server"
        if self.executable is None:
            raise EngineError("redis-server not found; run deploy/install-system-deps.sh (apt-get install redis-server)")
        self.port = self.pick_port(self.port, "port")

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
        return {"port": self.port, "persist": self.persist}

    def _restore_settings(self, settings: dict[str, Any]) -> None:
        self.port = settings.get("port")
        self.persist = bool(settings.get("persist"))
