"""The notification feed, end to end on real engines: events in through the transport (the
embedded log here; Kafka in the last test), both notifier consumers, the HTTP API out; every
test on SQLite and on PostgreSQL."""

from __future__ import annotations

import email
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from connect.bootstrap import BackgroundRunner, Container, build_container, deliver_until_quiet
from connect.events import OutgoingMessage
from connect.settings import Settings
from connect.web import create_app
from schemas.events import (AlternativeMentor, RelationshipEndingSoon, SupportMessageSentToPartner, Envelope, EventData, MeetingCancelled, MeetingChanged,
                            MeetingScheduled, MemberDetailsChanged, MemberErased, MessagePosted, PartnerNudged,
                            ProposalAccepted, ProposalEdited, ProposalExpired, ProposalRejected,
                            ProposalReminderDue, ProposalReopened, ProposalSent, ProposalWithdrawn,
                            RelationshipCompleted, RelationshipWithdrawn, SupportRequestCreated,
                            SupportRequestResolved)
from services.notifier.domain.rules import RULES

MENTOR, MENTEE = "M-TOR", "M-TEE"
ADDRESSES = {"grace@example.org": MENTOR, "ada@example.org": MENTEE}
REL = dict(relationship_id="R1", mentor_id=MENTOR, mentee_id=MENTEE)
MEETING = dict(**REL, meeting_id="MT1", starts_at=datetime(2026, 12, 10, 14, 0, tzinfo=timezone.utc),
               duration_minutes=45, mode="video", time_zone="Europe/London")


def every_kind_of_event() -> list[EventData]:
    """One event for every rule the notifier has (checked below), a few for both parties."""
    return [
        ProposalSent(**REL, actor_id=MENTEE, message="Could you help me?"),
        ProposalReminderDue(**REL, day=7),
        ProposalEdited(**REL, actor_id=MENTEE, changed_fields=["goals"]),
        ProposalAccepted(**REL, actor_id=MENTOR),
        ProposalRejected(**REL, actor_id=MENTOR, reason="No capacity"),
        ProposalWithdrawn(**REL, actor_id=MENTEE),
        ProposalReopened(**REL),  # the system reopened it: both hear
        ProposalExpired(**REL, alternatives=[AlternativeMentor(member_id="A1", name="Mentor 1")]),
        RelationshipWithdrawn(**REL, actor_id=MENTEE),
        RelationshipCompleted(**REL),
        MeetingScheduled(**MEETING, actor_id=MENTOR),
        MeetingChanged(**MEETING, actor_id=MENTEE, sequence=1),
        MeetingCancelled(**MEETING, actor_id=MENTOR, sequence=2),
        MessagePosted(**REL, actor_id=MENTEE, message_id="m1", sender_id=MENTEE, recipient_id=MENTOR),
        MessagePosted(**REL, actor_id=MENTEE, message_id="m2", sender_id=MENTEE, recipient_id=MENTOR,
                      notify=False),  # no email for it: no entry either
        PartnerNudged(**REL, actor_id=MENTOR, recipient_id=MENTEE),
        SupportRequestCreated(request_id="S1", member_id=MENTEE, kind="other"),
        SupportRequestResolved(request_id="S1", member_id=MENTEE, kind="other", outcome="done",
                               resolved_by="staff-1"),
        RelationshipEndingSoon(**REL, planned_end=datetime(2027, 6, 1, 9, 0, tzinfo=timezone.utc)),  # both hear
        SupportMessageSentToPartner(**REL, actor_id="staff-1", request_id="S2", recipient_id=MENTOR,
                                    message="Your mentee asked us to reach you."),
    ]


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    return None if request.param == "sqlite" else request.getfixturevalue("pg_database")


@pytest.fixture
def container(tmp_path: Path, clock: Any, database_url: str | None, migrated_sqlite: Any) -> Iterator[Container]:
    """The notifier alone on the embedded shape: its two consumers, its database, the file sender."""
    overrides: dict[str, Any] = {"var_dir": tmp_path / "var"}
    if database_url:
        overrides["notifier_database_url"] = database_url
    made = build_container(Settings(**overrides), clock=clock, services=("notifier",))
    migrated_sqlite.upgrade(made)
    yield made
    made.close()


@pytest.fixture
def api(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        yield client


def publish(container: Container, *events: EventData | Envelope, at: datetime | None = None) -> list[Envelope]:
    envelopes = [e if isinstance(e, Envelope) else e.envelope(producer="test", occurred_at=at or container.clock.now())
                 for e in events]
    container.transport.publisher().publish([OutgoingMessage(e.topic, e.key, e.to_bytes()) for e in envelopes])
    return envelopes


def deliver(container: Container) -> int:
    return deliver_until_quiet(container, {"notifier"})


def mails(container: Container) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=default_policy)
            for p in sorted(container.settings.mail_dir.glob("*.eml"))]


def whole_feed(api: TestClient, headers: dict[str, str], **params: Any) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        answer = api.get("/v1/notifications", headers=headers,
                         params={**params, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items, body["unread_count"]


@pytest.fixture
def members(container: Container) -> None:
    publish(container, MemberDetailsChanged(member_id=MENTOR, name="Grace Hopper", email="grace@example.org"),
            MemberDetailsChanged(member_id=MENTEE, name="Ada Lovelace", email="ada@example.org"))
    deliver(container)


@pytest.fixture
def auth(container: Container) -> Callable[[str], dict[str, str]]:
    def headers(member_id: str) -> dict[str, str]:
        assert container.dev_issuer is not None
        return {"Authorization": "Bearer " + container.dev_issuer.mint(member_id, member_id, f"{member_id}@example.org")}

    return headers


def test_the_feed_tells_the_same_people_the_same_thing_as_the_emails_once(container, api, auth, members):
    events = every_kind_of_event()
    assert {e.TYPE for e in events} == set(RULES)  # a new rule must be added here too
    envelopes = publish(container, *events)
    deliver(container)
    publish(container, *envelopes)  # redelivered (at-least-once): nothing twice, neither email nor entry
    deliver(container)

    sent = mails(container)
    # The customer service team's mailbox hears of the new request by email; it has no feed.
    to_the_team = [m["Subject"] for m in sent if m["To"].addresses[0].addr_spec not in ADDRESSES]
    assert to_the_team == ["New support request: Other question"]
    told_by_email = Counter((ADDRESSES[m["To"].addresses[0].addr_spec], m["Subject"]) for m in sent
                            if m["To"].addresses[0].addr_spec in ADDRESSES)
    told_in_feed: Counter[tuple[str, str]] = Counter()
    for member in (MENTOR, MENTEE):
        items, unread = whole_feed(api, auth(member))
        told_in_feed.update((member, item["title"]) for item in items)
        assert unread == len(items)
    assert told_in_feed == told_by_email
    # The list above: 13 events to one member, 6 to both (three meeting changes reach both
    # calendars), 1 to none.
    assert sum(told_by_email.values()) == 25


def test_entries_point_at_what_they_are_about(container, api, auth, members):
    [sent, meeting, support] = publish(container, ProposalSent(**REL, actor_id=MENTEE),
                                       MeetingScheduled(**MEETING, actor_id=MENTEE),
                                       SupportRequestCreated(request_id="S1", member_id=MENTOR, kind="other"))
    deliver(container)
    items, unread = whole_feed(api, auth(MENTOR))
    by_kind = {item["kind"]: item for item in items}
    assert by_kind["proposal_received"] == {
        "id": str(sent.event_id), "kind": "proposal_received", "title": "New mentoring proposal from Ada Lovelace",
        "occurred_at": sent.occurred_at.isoformat(), "read": False, "read_at": None, "relationship_id": "R1",
        "counterpart": {"member_id": MENTEE, "name": "Ada Lovelace"}, "portal_path": "/relationships/R1"}
    assert by_kind["meeting_scheduled"]["portal_path"] == "/relationships/R1/meetings"
    assert by_kind["support_request_received"]["portal_path"] == "/support"
    assert by_kind["meeting_scheduled"]["meeting_id"] == "MT1"
    assert by_kind["meeting_scheduled"]["title"] == "Meeting with Ada Lovelace on Thursday 10 December 2026, 14:00"
    assert by_kind["support_request_received"]["support_request_id"] == "S1"
    assert by_kind["support_request_received"]["counterpart"] is None
    assert unread == 3
    # Nobody else sees them.
    assert whole_feed(api, auth("M-OTHER")) == ([], 0)


def test_pages_newest_first_with_sealed_cursors_and_a_next_link(container, api, auth, members, clock):
    start = clock.now()
    for n in range(25):
        publish(container, MessagePosted(**REL, actor_id=MENTEE, message_id=f"m{n}", sender_id=MENTEE,
                                         recipient_id=MENTOR), at=start + timedelta(minutes=n))
    deliver(container)
    first = api.get("/v1/notifications", params={"limit": 10}, headers=auth(MENTOR))
    body = first.json()
    assert [item["message_id"] for item in body["items"]] == [f"m{n}" for n in range(24, 14, -1)]
    assert body["unread_count"] == 25 and body["next_cursor"]
    assert first.headers["link"].endswith('>; rel="next"') and "cursor=" in first.headers["link"]
    seen = [item["id"] for item in body["items"]]
    cursor = body["next_cursor"]
    while cursor:
        page = api.get("/v1/notifications", params={"limit": 10, "cursor": cursor}, headers=auth(MENTOR)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 25
    # A cursor is the member's and the query's own.
    stolen = api.get("/v1/notifications", params={"cursor": body["next_cursor"]}, headers=auth(MENTEE))
    assert stolen.status_code == 400 and stolen.json()["type"].endswith("/invalid-cursor")
    other_query = api.get("/v1/notifications", params={"cursor": body["next_cursor"], "unread": "true"},
                          headers=auth(MENTOR))
    assert other_query.status_code == 400
    for limit in (0, 101):
        bad = api.get("/v1/notifications", params={"limit": limit}, headers=auth(MENTOR))
        assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "query.limit"
    assert api.get("/v1/notifications").status_code == 401


def test_marking_read_by_ids_and_through_an_entry(container, api, auth, members, clock):
    start = clock.now()
    envelopes = [publish(container, MessagePosted(**REL, actor_id=MENTEE, message_id=f"m{n}", sender_id=MENTEE,
                                                  recipient_id=MENTOR), at=start + timedelta(minutes=n))[0]
                 for n in range(5)]
    deliver(container)
    ids = [str(e.event_id) for e in envelopes]  # oldest first
    answer = api.post("/v1/notifications/read", json={"ids": [ids[4]]}, headers=auth(MENTOR))
    assert answer.status_code == 200 and answer.json() == {"unread_count": 4}
    assert api.post("/v1/notifications/read", json={"ids": [ids[4]]}, headers=auth(MENTOR)).json() == {
        "unread_count": 4}  # again: nothing changes
    # Through the third: it and the two older ones; the fourth (newer) stays unread.
    assert api.post("/v1/notifications/read", json={"through": ids[2]}, headers=auth(MENTOR)).json() == {
        "unread_count": 1}
    items, unread = whole_feed(api, auth(MENTOR))
    assert unread == 1 and [i["id"] for i in items if not i["read"]] == [ids[3]]
    assert all(i["read_at"] for i in items if i["read"])
    unread_items, _ = whole_feed(api, auth(MENTOR), unread="true")
    assert [i["id"] for i in unread_items] == [ids[3]]

    # Someone else's entry, or none at all: 404 for them, and nothing changes.
    for body in ({"ids": [ids[3]]}, {"through": ids[3]}, {"ids": ["no-such-id"]}):
        refused = api.post("/v1/notifications/read", json=body, headers=auth(MENTEE))
        assert refused.status_code == 404, body
        assert refused.json()["type"].endswith("/notification-not-found")
    mixed = api.post("/v1/notifications/read", json={"ids": [ids[3], "no-such-id"]}, headers=auth(MENTOR))
    assert mixed.status_code == 404 and mixed.json()["notification_id"] == "no-such-id"
    assert whole_feed(api, auth(MENTOR))[1] == 1  # not even the entry that was the member's
    for body in ({}, {"ids": [ids[3]], "through": ids[3]}, {"ids": []}, {"ids": ["x\x00y"]}, {"all": True}):
        assert api.post("/v1/notifications/read", json=body, headers=auth(MENTOR)).status_code == 422, body


def test_an_unchanged_feed_answers_304(container, api, auth, members):
    publish(container, ProposalSent(**REL, actor_id=MENTEE))
    deliver(container)
    first = api.get("/v1/notifications", headers=auth(MENTOR))
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    again = api.get("/v1/notifications", headers={**auth(MENTOR), "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    [item] = first.json()["items"]
    api.post("/v1/notifications/read", json={"ids": [item["id"]]}, headers=auth(MENTOR))
    changed = api.get("/v1/notifications", headers={**auth(MENTOR), "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    publish(container, ProposalReminderDue(**REL, day=7))
    deliver(container)
    newer = api.get("/v1/notifications", headers={**auth(MENTOR), "If-None-Match": changed.headers["etag"]})
    assert newer.status_code == 200 and newer.json()["unread_count"] == 1


def test_erasure_empties_the_feed_for_good_and_hides_the_name_from_others(container, api, auth, members):
    [sent] = publish(container, ProposalSent(**REL, actor_id=MENTEE))
    publish(container, ProposalAccepted(**REL, actor_id=MENTOR))
    deliver(container)
    assert len(whole_feed(api, auth(MENTEE))[0]) == 1
    publish(container, MemberErased(member_id=MENTOR))
    deliver(container)
    publish(container, sent)  # an older event redelivered after the erasure
    publish(container, ProposalReminderDue(**REL, day=7))  # or a late one for the erased member
    deliver(container)
    assert whole_feed(api, auth(MENTOR)) == ([], 0)
    [item], _ = whole_feed(api, auth(MENTEE))
    assert item["title"] == "a Connect member accepted your mentoring proposal"
    assert item["counterpart"] == {"member_id": MENTOR, "name": "a Connect member"}


def test_the_feed_does_not_wait_for_the_mail_server(container, api, auth, members):
    """The emails' consumer stopped (a mail server down holds it back): the feed still moves."""
    publish(container, ProposalSent(**REL, actor_id=MENTEE))
    from connect.events import ConsumerLoop
    from services.notifier.tasks import FEED_GROUP_ID

    [spec] = [s for s in container.consumers({"notifier"}) if s.group_id == FEED_GROUP_ID]
    loop = ConsumerLoop(container.transport, spec.group_id, spec.topics, spec.handler, batch_handler=spec.batch_handler)
    try:
        loop.run_once(timeout_seconds=0)
    finally:
        loop.close()
    assert mails(container) == []
    assert len(whole_feed(api, auth(MENTOR))[0]) == 1


def test_the_feed_on_kafka_with_the_notifier_running_as_its_own_role(tmp_path, kafka_bootstrap, pg_database, clock):
    """The distributed shape: events through Kafka, both consumers running in the background as
    `connect run notifier` runs them, PostgreSQL; an event published twice gives one entry."""
    container = build_container(Settings(var_dir=tmp_path / "var", kafka_bootstrap=kafka_bootstrap,
                                         notifier_database_url=pg_database), clock=clock, services=("notifier",))
    container.upgrade_databases()
    runner = BackgroundRunner(container)
    mentor, mentee = "K-TOR-%s" % uuid.uuid4().hex[:8], "K-TEE-%s" % uuid.uuid4().hex[:8]
    relationship = dict(relationship_id="KR-%s" % uuid.uuid4().hex[:8], mentor_id=mentor, mentee_id=mentee)
    token = container.dev_issuer.mint(mentor, mentor, "k@example.org")  # type: ignore[union-attr]
    headers = {"Authorization": "Bearer " + token}
    # The app's lifespan closes the container on exit: the consumers stop inside it.
    with TestClient(create_app(container, routers=[container.services["notifier"].router])) as api:
        runner.start(relays=False, consumer_roles={"notifier"}, jobs=False)
        try:
            publish(container, MemberDetailsChanged(member_id=mentee, name="Ada Lovelace", email="ada@example.org"))
            [sent] = publish(container, ProposalSent(**relationship, actor_id=mentee))
            publish(container, sent, ProposalReminderDue(**relationship, day=7))
            deadline = time.monotonic() + 120
            items: list[dict[str, Any]] = []
            while time.monotonic() < deadline:
                items, _ = whole_feed(api, headers)
                if len(items) >= 2 and all(i["counterpart"]["name"] == "Ada Lovelace" for i in items):
                    break
                time.sleep(0.5)
            time.sleep(2)  # time for a duplicate, were there one
            items, unread = whole_feed(api, headers)
        finally:
            runner.stop()
    assert sorted(i["kind"] for i in items) == ["proposal_received", "proposal_reminder"]
    assert unread == 2 and str(sent.event_id) in {i["id"] for i in items}
    assert all(i["counterpart"]["name"] == "Ada Lovelace" for i in items)
