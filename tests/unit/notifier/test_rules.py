"""Domain rules of the notifier: who hears about what (no database, no SMTP)."""

from schemas.events import EVENT_TYPES, ProposalReopened, RelationshipWithdrawn
from services.notifier.adapters.rendering import TEMPLATES
from services.notifier.domain.rules import RULES, message_id_for, other_parties

IDS = dict(relationship_id="R1", mentor_id="A", mentee_id="B")


def test_every_rule_is_for_a_known_event_and_has_its_templates():
    assert set(RULES) <= set(EVENT_TYPES)
    for decide in set(RULES.values()):
        assert (TEMPLATES / f"{decide.__name__}.subject.j2").is_file()
        assert (TEMPLATES / f"{decide.__name__}.txt.j2").is_file()
        assert (TEMPLATES / f"{decide.__name__}.html.j2").is_file()


def test_the_system_acting_tells_both_parties_and_a_member_acting_tells_the_other():
    assert other_parties(RelationshipWithdrawn(**IDS)) == ["A", "B"]
    assert other_parties(RelationshipWithdrawn(**IDS, actor_id="A")) == ["B"]
    assert other_parties(ProposalReopened(**IDS), default_actor="mentee") == ["A"]


def test_message_id_is_deterministic_per_event_and_recipient():
    assert message_id_for("e1", "A") == message_id_for("e1", "A")
    assert len({message_id_for("e1", "A"), message_id_for("e1", "B"), message_id_for("e2", "A")}) == 3
