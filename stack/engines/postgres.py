"""A private PostgreSQL server from the Debian packages, on a free loopback port.

The postmaster runs in the foreground as our direct child rather than through ``pg_ctl start``:
pg_ctl puts the server in a new session of its own, out of reach of our process-group kill and
of the parent-death signal.
"""

from __future__ import annotations

import glob
import grp
import os
import pwd
import re
import shutil
import signal
from pathlib import Path
from typing import Any, Sequence

from .base import EngineError, PortEngine, install_hint

SUPERUSER = "postgres"


def find_pg_bindir() -> Path:
    """``CONNECT_PG_BINDIR``, else the newest /usr/lib/postgresql/<ver>/bin, else initdb on PATH."""
    configured = os.environ.get("CONNECT_PG_BINDIR")
    if configured:
        return Path(configured)

    def version_key(path: str) -> tuple[int, ...]:
        match = re.search(r"/postgresql/([\d.]+)/bin", path)
        return tuple(int(part) for part in match.group(1).split(".")) if match else (0,)

    candidates = sorted(
        (p for p in glob.glob("/usr/lib/postgresql/*/bin") if os.path.exists(os.path.join(p, "initdb"))),
        key=version_key,
    )
    if candidates:
        return Path(candidates[-1])
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise EngineError(install_hint("PostgreSQL (initdb, postgres)", "postgresql"))


def _may_enter(folder: Path, account: pwd.struct_passwd) -> bool:
    """Whether ``account`` may pass through ``folder`` (its search permission, as the kernel decides)."""
    info = folder.stat()
    if info.st_uid == account.pw_uid:
        return bool(info.st_mode & 0o100)
    groups = {account.pw_gid, *(g.gr_gid for g in grp.getgrall() if account.pw_name in g.gr_mem)}
    if info.st_gid in groups:
        return bool(info.st_mode & 0o010)
    return bool(info.st_mode & 0o001)


class PostgresEngine(PortEngine):
    """PostgreSQL with trust auth on ``host:port``; ``url`` points at database ``database``.

    ``url`` is a SQLAlchemy URL, ``postgresql+psycopg://postgres@127.0.0.1:<port>/connect``.
    As root, initdb and the server run as the ``postgres`` account and the data folder is
    handed to it (PostgreSQL refuses to run as root).
    """

    name = "postgres"
    # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to disconnect.
    stop_signal = signal.SIGINT
    stop_grace = 15.0
    default_startup_timeout = 60.0

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, *, database: str = "connect",
                 bin_dir: str | os.PathLike[str] | None = None, fsync: bool = False, **options: Any) -> None:
        """``options``: ``port`` and those of every engine (``detached``, ``startup_timeout``, ``host``)."""
        super().__init__(data_dir, **options)
        self.database = database
        self.bin_dir = Path(bin_dir) if bin_dir else None
        self.fsync = fsync

    @property
    def admin_url(self) -> str:
        """URL of the maintenance database ``postgres`` on this server."""
        return "postgresql+psycopg://%s@%s:%s/postgres" % (SUPERUSER, self.host, self.port)

    @property
    def pgdata(self) -> Path:
        assert self.root is not None
        return self.root / "pgdata"

    @classmethod
    def preflight(cls, data_dir: Path) -> None:
        bin_dir = find_pg_bindir()
        for tool in ("initdb", "postgres"):
            if not os.access(bin_dir / tool, os.X_OK):
                raise EngineError(install_hint("PostgreSQL %s in %s" % (tool, bin_dir), "postgresql"))
        account = cls._account()
        if account is None:
            return
        # As root the server runs as the postgres account: every folder above its data folder
        # must let that account through (a `mktemp -d` folder or /root does not).
        for folder in reversed([data_dir, *data_dir.parents]):
            if folder.exists() and not _may_enter(folder, account):
                raise EngineError(
                    "PostgreSQL runs as the '%s' account, which may not enter %s (mode %s): use a --folder "
                    "it can reach, or let it through with `chmod o+x %s`"
                    % (SUPERUSER, folder, oct(folder.stat().st_mode & 0o777)[2:].rjust(4, "0"), folder))

    @staticmethod
    def _account() -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(SUPERUSER)
        except KeyError as exc:
            raise EngineError("running as root but there is no '%s' account to run PostgreSQL" % SUPERUSER) from exc

    def _as_account(self) -> dict[str, Any]:
        account = self._account()
        if account is None:
            return {}
        return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}

    def _prepare(self) -> None:
        assert self.root is not None
        if self.bin_dir is None:
            self.bin_dir = find_pg_bindir()
        for tool in ("initdb", "postgres"):
            if not os.access(self.bin_dir / tool, os.X_OK):
                raise EngineError(install_hint("PostgreSQL %s in %s" % (tool, self.bin_dir), "postgresql"))
        super()._prepare()  # the port
        account = self._account()
        if account is not None:
            # The server account must own its data folder and be able to append to our log.
            self.log_path.touch()  # type: ignore[union-attr]
            for path in [self.root, *self.root.rglob("*")]:
                os.chown(path, account.pw_uid, account.pw_gid, follow_symlinks=False)
        if not (self.pgdata / "PG_VERSION").exists():
            self.run_tool(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    SUPERUSER,
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    # Durability of a throwaway cluster is not worth the fsyncs.
                    "--no-sync",
                ],
                env=self._env(),
                **self._as_account(),
            )

    def _env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}

    def _command(self) -> Sequence[str]:
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            # TCP only: no socket file to place in a folder the account may not write to.
            "unix_socket_directories": "",
            "fsync": "on" if self.fsync else "off",
            "synchronous_commit": "on" if self.fsync else "off",
            "full_page_writes": "on" if self.fsync else "off",
            "max_connections": "200",
            "logging_collector": "off",
        }
        argv = [str(self.bin_dir / "postgres"), "-D", str(self.pgdata)]  # type: ignore[operator]
        for key, value in settings.items():
            argv += ["-c", "%s=%s" % (key, value)]
        return argv

    def _spawn_options(self) -> dict[str, Any]:
        return {"env": self._env(), **self._as_account()}

    def _build_url(self) -> str:
        return "postgresql+psycopg://%s@%s:%s/%s" % (SUPERUSER, self.host, self.port, self.database)

    def _ready(self) -> bool:
        import psycopg

        with psycopg.connect(
            host=self.host, port=self.port, user=SUPERUSER, dbname="postgres", connect_timeout=2
        ) as conn:
            return conn.execute("select 1").fetchone() == (1,)

    def _after_ready(self) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            host=self.host, port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (self.database,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(self.database)))

    def _state_settings(self) -> dict[str, Any]:
        return {**super()._state_settings(), "database": self.database, "bin_dir": str(self.bin_dir)}

    def _restore_settings(self, settings: dict[str, Any]) -> None:
        super()._restore_settings(settings)
        self.database = settings.get("database", self.database)
        if settings.get("bin_dir"):
            self.bin_dir = Path(settings["bin_dir"])


# --------------------------------------------------------------------------- database helpers


def _libpq_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def database_url(url: str, name: str) -> str:
    """``url`` with its database replaced by ``name``."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


def create_database(url: str, name: str) -> str:
    """Create database ``name`` on the server of ``url``; return its URL."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(_libpq_url(url), autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return database_url(url, name)


def drop_database(url: str, name: str) -> None:
    """Drop database ``name``, disconnecting whatever still holds a session on it."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(_libpq_url(url), autocommit=True, connect_timeout=10) as conn:
        if conn.info.server_version >= 130000:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
            return
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(name)))
