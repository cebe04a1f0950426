"""What the notifier runs: its event consumer."""

from __future__ import annotations

from connect.bootstrap import ConsumerSpec
from schemas.events import MEMBERS_TOPIC, RELATIONSHIPS_TOPIC
from services.notifier.services import NotifierService

GROUP_ID = "notifier"
TOPICS = [MEMBERS_TOPIC, RELATIONSHIPS_TOPIC]


def notifier_consumer(service: NotifierService) -> ConsumerSpec:
    return ConsumerSpec(group_id=GROUP_ID, topics=list(TOPICS), handler=service.handle_record, role="notifier")
