"""On Kafka, the member-keyed topics are compacted (MemberErased, a member's last record,
supersedes the records that carried their name, email and profile texts); the relationships
topic keeps time-based retention."""

from __future__ import annotations

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from connect.adapters.events_kafka import KafkaTransport
from connect.settings import EventSettings
from schemas.events import MEMBERS_TOPIC, PROFILES_TOPIC, RELATIONSHIPS_TOPIC


def _cleanup_policies(bootstrap: str, topics: list[str]) -> dict[str, str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        answer = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t, configs={"cleanup.policy": None})
                                         for t in topics], config_filter="all")
    finally:
        admin.close()
    [by_topic] = answer.values()
    return {name: configs["cleanup.policy"]["value"] for name, configs in by_topic.items()}


def test_member_keyed_topics_are_compacted(kafka_bootstrap):
    transport = KafkaTransport(EventSettings(kafka_bootstrap=kafka_bootstrap))
    try:
        transport.ensure_topics([MEMBERS_TOPIC, PROFILES_TOPIC, RELATIONSHIPS_TOPIC])
    finally:
        transport.close()
    assert _cleanup_policies(kafka_bootstrap, [MEMBERS_TOPIC, PROFILES_TOPIC, RELATIONSHIPS_TOPIC]) == {
        MEMBERS_TOPIC: "compact", PROFILES_TOPIC: "compact", RELATIONSHIPS_TOPIC: "delete"}
