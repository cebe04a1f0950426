"""The notifier's batch path (ConsumerLoop's `batch_handler`): one poll handled with shared lookups
and grouped ledger writes, with the one-record path taking over whatever the batch left undone."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from stack.engines.smtp import SmtpSink
from connect.events import ConsumerLoop, OutgoingMessage, dead_letter_topic
from schemas.events import RELATIONSHIPS_TOPIC, MemberDetailsChanged, ProposalSent
from services.notifier.adapters.orm import deliveries
from services.notifier.domain.rules import message_id_for
from services.notifier.tasks import GROUP_ID, TOPICS
from tests.unit.notifier.test_notifier import mails, publish


@pytest.fixture
def sink():  # type: ignore[no-untyped-def]
    with SmtpSink() as running:
        yield running


def smtp_container(tmp_path, clock, smtp_url: str):  # type: ignore[no-untyped-def]
    from connect.bootstrap import build_container
    from connect.settings import Settings

    made = build_container(Settings(var_dir=tmp_path / "var", smtp_url=smtp_url), clock=clock,
                           services=("notifier",))
    made.upgrade_databases()
    return made


def ledger_rows(container) -> int:  # type: ignore[no-untyped-def]
    with container.services["notifier"].database.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(deliveries)).scalar_one()


def test_one_poll_with_directory_changes_duplicates_and_poison_sends_each_email_once(container, deliver):
    # All in one batch: an address arrives before the proposal that needs it, the relay delivers
    # one event twice, a poison record sits in the middle, and an address changes mid-batch.
    first = publish(container,
                    MemberDetailsChanged(member_id="A", name="Ann", email="ann@example.org"),
                    MemberDetailsChanged(member_id="B", name="Bob", email="bob@example.org"),
                    ProposalSent(relationship_id="R1", mentor_id="A", mentee_id="B", actor_id="B"))
    container.transport.publisher().publish([OutgoingMessage(RELATIONSHIPS_TOPIC, "R-bad", b"{not json")])
    again = publish(container, first[2],
                    MemberDetailsChanged(member_id="A", name="Ann", email="ann@new.example.org"),
                    ProposalSent(relationship_id="R2", mentor_id="A", mentee_id="B", actor_id="B"))
    deliver({"notifier"})

    sent = {(m["Message-ID"], m["To"].addresses[0].addr_spec) for m in mails(container)}
    assert sent == {(message_id_for(str(first[2].event_id), "A"), "ann@example.org"),
                    (message_id_for(str(again[2].event_id), "A"), "ann@new.example.org")}
    assert ledger_rows(container) == 2
    dead = container.transport.consumer("inspect", [dead_letter_topic(GROUP_ID)])
    assert [r.value for r in dead.poll(0.5)] == [b"{not json"]
    dead.close()


def test_a_refused_send_hands_its_key_to_the_retrying_path_and_the_rest_of_the_batch_goes_on(tmp_path, clock,
                                                                                              sink):
    container = smtp_container(tmp_path, clock, sink.url)
    try:
        service = container.services["notifier"].facade
        publish(container, *[MemberDetailsChanged(member_id=m, name=m, email=f"{m.lower()}@example.org")
                             for m in ("A", "B", "C")])
        loop = ConsumerLoop(container.transport, GROUP_ID, TOPICS, service.handle_record,
                            batch_handler=service.handle_records, sleep=lambda _: None)
        loop.run_once(0)
        # R1's first email meets a 451; R1's second event must wait for it, R2 must not.
        sink.program(451)
        events = publish(container,
                         ProposalSent(relationship_id="R1", mentor_id="A", mentee_id="C", actor_id="C"),
                         ProposalSent(relationship_id="R2", mentor_id="B", mentee_id="C", actor_id="C"),
                         ProposalSent(relationship_id="R1", mentor_id="A", mentee_id="C", actor_id="C",
                                      message="second"))
        assert loop.run_once(0) == 3
        loop.close()

        accepted = [m.message["Message-ID"] for m in sink.messages]
        ids = [message_id_for(str(e.event_id), "A" if e.key == "R1" else "B") for e in events]
        assert sorted(accepted) == sorted(ids)  # each exactly once
        assert accepted.index(ids[0]) < accepted.index(ids[2])  # R1 kept its order
        assert [a.code for a in sink.attempts].count(451) == 1
        assert ledger_rows(container) == 3
        assert loop.dead_lettered == 0
    finally:
        container.close()
