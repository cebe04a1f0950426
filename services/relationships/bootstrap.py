from __future__ import annotations

from pathlib import Path

from connect.auth import MemberHook
from connect.bootstrap import ConsumerSpec, Container, ServiceModule
from connect.outbox import OutboxRelay
from connect.scheduling import PeriodicJob
from schemas.events import MEMBERS_TOPIC, PROFILES_TOPIC
from services.relationships import api
from services.relationships.adapters import orm
from services.relationships.adapters.connections import HttpConnections, InProcessConnections
from services.relationships.adapters.mentors import HttpMentors, InProcessMentors
from services.relationships.adapters.suggestions import HttpSuggestions, InProcessSuggestions, ProjectionSuggestions
from services.relationships.interfaces import MentorFacts, MentorSuggestions, SharedConnections
from services.relationships.services import RelationshipsService
from services.relationships.tasks import MemberProjector


def wire(container: Container) -> ServiceModule:
    database = container.database("relationships")
    api_settings = container.settings.api
    # Matching answers three questions: alternatives for an expired proposal (from our own member
    # projection when it is down), what two members share, and whether a member the projection
    # has not heard of yet is a mentor.  Over HTTP when it runs elsewhere;
    # otherwise in this process, looked up at call time (matching may be wired after us, or not at all).
    projection = ProjectionSuggestions(database)
    suggestions: MentorSuggestions
    connections: SharedConnections
    mentors: MentorFacts
    if api_settings.matching_url:
        suggestions = HttpSuggestions(api_settings.matching_url, lambda: api_settings.matching_token, projection)
        connections = HttpConnections(api_settings.matching_url, lambda: api_settings.matching_token)
        mentors = HttpMentors(api_settings.matching_url, lambda: api_settings.matching_token)
    else:
        suggestions = InProcessSuggestions(lambda: container.service("matching"), projection)
        connections = InProcessConnections(lambda: container.service("matching"))
        mentors = InProcessMentors(lambda: container.service("matching"))
    facade = RelationshipsService(database, container.clock, after_commit=container.wake_relays,
                                  suggestions=suggestions, connections=connections, mentors=mentors)
    # First of all hooks: a deleted member's token is refused before anything records them.
    container.authenticator.on_seen.insert(0, MemberHook(facade.account.refuse_deleted,
                                                         facade.account.confirmed_not_deleted))
    container.authenticator.on_seen.append(MemberHook(facade.members.member_seen, facade.members.knows_details))
    return ServiceModule(
        name="relationships",
        database=database,
        migrations=Path(__file__).parent / "migrations",
        router=api.router,
        relay=OutboxRelay(database, orm.outbox, container.transport.publisher(), container.clock),
        consumers=[ConsumerSpec(group_id="relationships-members", topics=[MEMBERS_TOPIC, PROFILES_TOPIC],
                                handler=MemberProjector(facade.members), role="projector")],
        jobs=[PeriodicJob(name="relationships.sweep",
                          interval_seconds=container.settings.scheduler.sweep_interval_seconds, run=facade.sweep)],
        facade=facade,
    )
