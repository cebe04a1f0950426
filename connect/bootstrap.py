"""The composition root: the one place where settings choose adapters.

`build_container()` reads settings and wires every port to its embedded or
distributed adapter, then lets each service wire itself (`services/*/bootstrap.py`).
Nothing connects here; engines and clients open on first use.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from fastapi import APIRouter

from connect.auth import Authenticator, DevIssuer, RemoteJwks, TokenVerifier
from connect.clock import Clock, SystemClock
from connect.cursors import CursorCodec, cursor_key
from connect.db import Database
from connect.email import EmailSender
from connect.events import BatchHandler, ConsumerLoop, EventTransport, Handler
from connect.outbox import OutboxRelay
from connect.scheduling import PeriodicJob
from connect.settings import SERVICES, Settings

log = logging.getLogger(__name__)


@dataclass
class ConsumerSpec:
    group_id: str
    topics: list[str]
    handler: Handler
    role: str  # which `connect run ROLE` process runs it in the distributed shape
    workers: int = 1  # >1: records of different keys handled in parallel threads (ConsumerLoop)
    batch_handler: BatchHandler | None = None  # optional fast path over a polled batch (ConsumerLoop)


@dataclass
class ServiceModule:
    """What a service hands the composition root."""

    name: str
    database: Database
    migrations: Path
    router: APIRouter | None = None
    relay: OutboxRelay | None = None
    consumers: list[ConsumerSpec] = field(default_factory=list)
    jobs: list[PeriodicJob] = field(default_factory=list)
    ready_checks: dict[str, Callable[[], None]] = field(default_factory=dict)
    facade: Any = None  # the service's own entry points (used by the CLI and by tests)
    # Members the development sign-in page offers (embedded default only; connect/dev_oidc.py).
    dev_accounts: Callable[[], list[Any]] | None = None


class Container:
    def __init__(self, settings: Settings, clock: Clock, *, load_models: bool = True) -> None:
        self.settings = settings
        self.clock = clock
        # True: models (matching's embedding model) load while wiring, so a bad setting stops
        # start-up.  False, for processes that may never use them (Celery worker and beat, relay,
        # notifier, projector): they load on first use, if any.
        self.load_models = load_models
        self.services: dict[str, ServiceModule] = {}
        self._transport: EventTransport | None = None
        self._email: EmailSender | None = None
        self._cursors: CursorCodec | None = None
        self.dev_issuer: DevIssuer | None = None
        if settings.auth.jwks_url:
            keys: Any = RemoteJwks(settings.auth.jwks_url, settings.auth.jwks_refetch_min_seconds)
        else:
            keys = self.dev_issuer = DevIssuer(settings.var_dir / "dev-issuer", settings.auth)
        self.authenticator = Authenticator(TokenVerifier(keys, settings.auth))

    # --- ports -------------------------------------------------------------------
    @property
    def transport(self) -> EventTransport:
        if self._transport is None:
            if self.settings.events.kafka_bootstrap:
                from connect.adapters.events_kafka import KafkaTransport

                self._transport = KafkaTransport(self.settings.events)
            else:
                from connect.adapters.events_embedded import EmbeddedTransport

                self._transport = EmbeddedTransport(self.settings.var_dir / "events.db")
        return self._transport

    @property
    def email_sender(self) -> EmailSender:
        if self._email is None:
            if self.settings.email.smtp_url:
                from connect.adapters.email_smtp import SmtpEmailSender

                self._email = SmtpEmailSender(self.settings.email.smtp_url, self.settings.email.smtp_timeout_seconds)
            else:
                from connect.adapters.email_files import FileEmailSender

                self._email = FileEmailSender(self.settings.mail_dir)
        return self._email

    @property
    def cursors(self) -> CursorCodec:
        """Seals and opens the page cursors of every listing (connect/cursors.py)."""
        if self._cursors is None:
            secret = self.settings.api.cursor_secret
            self._cursors = CursorCodec(cursor_key(secret.get_secret_value() if secret else None,
                                                   self.settings.var_dir))
        return self._cursors

    def database(self, service: str) -> Database:
        return Database(self.settings.database_url(service), service)

    def wake_relays(self) -> None:
        for module in self.services.values():
            if module.relay is not None:
                module.relay.wakeup.set()

    # --- services ----------------------------------------------------------------
    def service(self, name: str) -> Any:
        return self.services[name].facade

    def periodic_jobs(self) -> list[PeriodicJob]:
        return [job for module in self.services.values() for job in module.jobs]

    def periodic_job(self, name: str) -> PeriodicJob:
        for job in self.periodic_jobs():
            if job.name == name:
                return job
        raise KeyError(name)

    def consumers(self, roles: set[str] | None = None) -> list[ConsumerSpec]:
        return [c for m in self.services.values() for c in m.consumers if roles is None or c.role in roles]

    def dev_accounts(self) -> list[Any]:
        """Every service's suggestions for the development sign-in page, first come first."""
        seen: dict[str, Any] = {}
        for module in self.services.values():
            for account in module.dev_accounts() if module.dev_accounts else []:
                seen.setdefault(account.member_id, account)
        return list(seen.values())

    def upgrade_databases(self) -> None:
        for module in self.services.values():
            module.database.upgrade(module.migrations)

    def ready_checks(self) -> dict[str, Callable[[], None]]:
        checks: dict[str, Callable[[], None]] = {}
        for module in self.services.values():
            checks[f"{module.name}.database"] = module.database.ping
            for name, check in module.ready_checks.items():
                checks[f"{module.name}.{name}"] = check
        checks["email"] = self.email_sender.check
        return checks

    def close(self) -> None:
        for module in self.services.values():
            module.database.dispose()
        if self._transport is not None:
            self._transport.close()


def build_container(settings: Settings | None = None, *, clock: Clock | None = None,
                    services: tuple[str, ...] = SERVICES, load_models: bool = True) -> Container:
    from importlib import import_module

    container = Container(settings or Settings(), clock or SystemClock(), load_models=load_models)
    for name in services:
        wire = import_module(f"services.{name}.bootstrap").wire
        container.services[name] = wire(container)
    return container


def deliver_until_quiet(container: Container, roles: set[str] | None = None, rounds: int = 20) -> int:
    """Relay every outbox and run the consumers (of `roles`, default all) until nothing moves.

    The embedded shape's background work, done on demand: `connect sweep` uses it so the
    emails exist when the command returns, and tests use it instead of sleeping.
    """
    loops = [ConsumerLoop(container.transport, spec.group_id, spec.topics, spec.handler,
                          batch_handler=spec.batch_handler)
             for spec in container.consumers(roles)]
    moved = 0
    try:
        for _ in range(rounds):
            step = sum(m.relay.drain() for m in container.services.values() if m.relay is not None)
            step += sum(loop.run_once(timeout_seconds=0) for loop in loops)
            moved += step
            if not step:
                break
    finally:
        for loop in loops:
            loop.close()
    return moved


class BackgroundRunner:
    """Runs relays, consumers and periodic jobs in threads (embedded shape, or a role process)."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []

    def _spawn(self, name: str, target: Callable[[threading.Event], None]) -> None:
        thread = threading.Thread(target=target, args=(self.stop_event,), name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def start(self, *, relays: bool = True, consumer_roles: set[str] | None = None, jobs: bool = True) -> None:
        if relays:
            for module in self.container.services.values():
                if module.relay is not None:
                    self._spawn(f"relay-{module.name}", module.relay.run)
        for spec in self.container.consumers(consumer_roles):
            loop = ConsumerLoop(self.container.transport, spec.group_id, spec.topics, spec.handler,
                                workers=spec.workers, batch_handler=spec.batch_handler)
            self._spawn(f"consumer-{spec.group_id}", loop.run)
        if jobs and self.container.periodic_jobs():
            from connect.adapters.scheduler_thread import ThreadScheduler

            self._spawn("scheduler", ThreadScheduler(self.container.periodic_jobs()).run)

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.container.wake_relays()
        for thread in self.threads:
            thread.join(timeout)
        self.threads.clear()
