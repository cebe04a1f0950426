from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from connect.auth import MemberHook
from connect.bootstrap import ConsumerSpec, Container, ServiceModule
from connect.outbox import OutboxRelay
from connect.scheduling import PeriodicJob
from schemas.events import MEMBERS_TOPIC, PROFILES_TOPIC
from services.relationships.proposals import api
from services.relationships.workspace import api as api_workspace
from services.relationships.adapters import orm
from services.relationships.adapters.suggestions import HttpSuggestions, InProcessSuggestions, ProjectionSuggestions
from services.relationships.interfaces import MentorSuggestions
from services.relationships.proposals.services import RelationshipsService
from services.relationships.workspace.services import (HttpConnections, InProcessConnections, SharedConnections,
                                              WorkspaceService)


def wire(container: Container) -> ServiceModule:
    database = container.database("relationships")
    api_settings = container.settings.api
    # Expired proposals offer alternatives from matching; from our own member projection when it is down.
    projection = ProjectionSuggestions(database)
    suggestions: MentorSuggestions
    if api_settings.matching_url:
        suggestions = HttpSuggestions(api_settings.matching_url, lambda: api_settings.matching_token, projection)
    else:
        # Looked up at call time: matching may be wired after us, or not at all in this process.
        suggestions = InProcessSuggestions(lambda: container.service("matching"), projection)
    facade = RelationshipsService(database, container.clock, after_commit=container.wake_relays,
                                  suggestions=suggestions)
    container.authenticator.on_seen.append(MemberHook(facade.member_seen, facade.knows_details))
    # The workspace (meetings, tools, messages, account) rides on the same facade and database.
    connections: SharedConnections
    if api_settings.matching_url:
        connections = HttpConnections(api_settings.matching_url, lambda: api_settings.matching_token)
    else:
        connections = InProcessConnections(lambda: container.service("matching"))
    facade.workspace = WorkspaceService(facade, connections)
    # First of all hooks: a deleted member's token is refused before anything records them.
    container.authenticator.on_seen.insert(0, MemberHook(facade.workspace.refuse_deleted,
                                                         facade.workspace.confirmed_not_deleted))
    router = APIRouter()
    router.include_router(api.router)
    router.include_router(api_workspace.router)
    return ServiceModule(
        name="relationships",
        database=database,
        migrations=Path(__file__).parent / "migrations",
        router=router,
        relay=OutboxRelay(database, orm.outbox, container.transport.publisher(), container.clock),
        consumers=[ConsumerSpec(group_id="relationships-members", topics=[MEMBERS_TOPIC, PROFILES_TOPIC],
                                handler=facade.project_member_event, role="projector")],
        jobs=[PeriodicJob(name="relationships.sweep", interval_seconds=container.settings.scheduler.sweep_interval_seconds,
                          run=facade.sweep)],
        facade=facade,
    )
