"""The description of one service: everything the app factory, the relay, the consumer and the
launcher need to know about it, declared in the service's `service.py`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, MetaData

from .apikeys import ApiKeyColumns
from .config import Settings
from .contracts import Actor
from .db import EVENT_PROCESS_CONNECTIONS, make_engine
from .events import EventSpec
from .events.actors import acting
from .events.brokers import broker_for, subscription_for
from .events.consumer import Consumer
from .events.relay import Relay
from .membership import MembershipColumns

if TYPE_CHECKING:  # the relay and the consumer run without the web layer
    from flask import Flask
    from flask_smorest import Blueprint


@dataclass
class Service:
    name: str
    #: the package holding the service's code and its `migrations/` folder
    package: str
    blueprints: list[Blueprint] = field(default_factory=list)
    metadata: MetaData | None = None
    events: EventSpec | None = None
    #: the service's `handlers` module, whose `@events.handles` functions its import registers
    handlers: ModuleType | None = None
    #: the MembershipColumns model that authorization reads
    membership_model: type[MembershipColumns] | None = None
    #: the model keyed by workspace id whose `require_mfa` says whether the workspace's members
    #: need two-factor sign-in (a WorkspacePolicyColumns table, or a settings read model with it)
    workspace_policy_model: type | None = None
    #: the ApiKeyColumns model that authenticates workspace API keys
    api_key_model: type[ApiKeyColumns] | None = None
    #: service-specific setup, run by the app factory after the common parts
    setup: Callable[[Flask, Settings], None] | None = None
    #: the gunicorn worker class that serves its HTTP API
    web_worker: str = "mpdp_common.httpserver.ProblemWorker"
    #: how this service verifies tokens when it cannot use the JWKS endpoint (identity itself)
    key_source: Callable[[Settings], Callable[[str], Any]] | None = None
    #: processes of its own beside web, relay and consumer (identity's mail worker), by name; each
    #: runs until the event is set, and the launcher starts and restarts it like the others
    workers: dict[str, Callable[[Settings, threading.Event], None]] = field(default_factory=dict)
    #: publishes again, through its outbox, the state it owns as its ordinary full-state events, for
    #: consumers deployed after that state was made (`mpdpctl announce`); yields how many events of
    #: each type each committed batch wrote
    announce: Callable[[Engine], Iterator[tuple[str, int]]] | None = None

    @property
    def has_database(self) -> bool:
        return self.metadata is not None

    @property
    def event_spec(self) -> EventSpec:
        if self.events is None:
            raise ValueError(f"the {self.name} service has no events")
        return self.events

    def relay(self, settings: Settings) -> Relay:
        return Relay(
            self.event_spec,
            make_engine(settings.database_url, EVENT_PROCESS_CONNECTIONS),
            broker_for(settings),
            exchange=settings.exchange,
            batch_size=settings.outbox_batch_size,
            poll_seconds=settings.outbox_poll_seconds,
        )

    def consumer(self, settings: Settings) -> Consumer:
        spec = self.event_spec
        engine = make_engine(settings.database_url, EVENT_PROCESS_CONNECTIONS)
        return Consumer(spec, engine, broker_for(settings), subscription_for(settings, spec), settings)

    def run_relay(self, settings: Settings, stop: threading.Event) -> None:
        self.relay(settings).run(stop)

    def run_consumer(self, settings: Settings, stop: threading.Event) -> None:
        self.consumer(settings).run(stop)

    def run_worker(self, worker: str, settings: Settings, stop: threading.Event) -> None:
        """Run one of its workers; what the worker publishes is the system's doing, `<service>.<worker>`."""
        with acting(Actor.system(f"{self.name}.{worker}")):
            self.workers[worker](settings, stop)

    @property
    def jobs(self) -> dict[str, Callable[[Settings, threading.Event], None]]:
        """What the service runs besides its HTTP API, by name: its relay and consumer where it has
        events, and its workers (each as the system's `<service>.<worker>`); each runs until the event is set."""
        jobs: dict[str, Callable[[Settings, threading.Event], None]] = {}
        if self.events is not None:
            jobs |= {"relay": self.run_relay, "consumer": self.run_consumer}
        return jobs | {worker: partial(self.run_worker, worker) for worker in self.workers}


#: the entry point group each service's package declares itself in, under the service's name
SERVICES_GROUP = "mpdp.services"


def installed_services() -> dict[str, Service]:
    """The services installed in this environment, by name (entry point group `mpdp.services`)."""
    found = {}
    for entry in entry_points(group=SERVICES_GROUP):
        service = entry.load()
        found[service.name] = service
    return dict(sorted(found.items(), key=lambda item: (item[0] == "gateway", item[0])))
