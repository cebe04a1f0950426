"""Round trips through each real engine the harness provides: proof that the fixtures work."""

from __future__ import annotations

import shutil
import smtplib
import time
import uuid
from email.message import EmailMessage

import pytest


def _suffix() -> str:
    return uuid.uuid4().hex[:10]


@pytest.mark.parametrize("run", [1, 2])
def test_postgres_roundtrip_in_a_private_database(pg_database: str, run: int) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(pg_database)
    try:
        with engine.begin() as conn:
            # Fails on the second run if pg_database handed out the same database twice.
            conn.execute(sa.text("create table greeting (id serial primary key, body text not null)"))
            conn.execute(sa.text("insert into greeting (body) values (:body)"), {"body": "hello %d" % run})
        with engine.connect() as conn:
            rows = conn.execute(sa.text("select body from greeting")).scalars().all()
        assert rows == ["hello %d" % run]
    finally:
        engine.dispose()


def test_postgres_shared_database_answers(postgres_url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("select 1")).scalar_one() == 1
    finally:
        engine.dispose()


def test_redis_set_get(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        key = "roundtrip:%s" % _suffix()
        assert client.set(key, "value", ex=60)
        assert client.get(key) == b"value"
        client.delete(key)
    finally:
        client.close()


def test_kafka_produce_consume_commit(kafka_bootstrap: str) -> None:
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.structs import OffsetAndMetadata, TopicPartition

    topic = "roundtrip-%s" % _suffix()
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="roundtrip-admin")
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        assert topic in admin.list_topics()
    finally:
        admin.close()

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        sent = producer.send(topic, key=b"member-1", value=b"ProposalSent").get(timeout=30)
    finally:
        producer.close()

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id="roundtrip-%s" % _suffix(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    try:
        records = []
        deadline = time.monotonic() + 60
        while not records and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=1000).values():
                records.extend(batch)
        assert [(r.key, r.value) for r in records] == [(b"member-1", b"ProposalSent")]
        record = records[0]
        assert (record.partition, record.offset) == (sent.partition, sent.offset)
        partition = TopicPartition(topic, record.partition)
        consumer.commit({partition: OffsetAndMetadata(record.offset + 1, "", -1)})
        assert consumer.committed(partition) == record.offset + 1
    finally:
        consumer.close()


def test_opensearch_index_and_search(opensearch_url: str) -> None:
    from opensearchpy import OpenSearch

    client = OpenSearch(hosts=[opensearch_url], timeout=30)
    index = "roundtrip-%s" % _suffix()
    try:
        client.indices.create(
            index=index,
            body={
                "settings": {"number_of_shards": 1, "number_of_replicas": 0},
                "mappings": {"properties": {"name": {"type": "text"}, "skills": {"type": "keyword"}}},
            },
        )
        client.index(index=index, id="m1", body={"name": "Ada Lovelace", "skills": ["mentoring"]}, refresh=True)
        result = client.search(index=index, body={"query": {"match": {"name": "lovelace"}}})
        hits = result["hits"]["hits"]
        assert [hit["_id"] for hit in hits] == ["m1"]
        assert hits[0]["_source"]["skills"] == ["mentoring"]
    finally:
        client.indices.delete(index=index, ignore_unavailable=True)
        client.close()


def test_elasticsearch_index_and_search(elasticsearch_url: str) -> None:
    from elasticsearch import Elasticsearch

    client = Elasticsearch(elasticsearch_url, request_timeout=30)
    index = "roundtrip-%s" % _suffix()
    try:
        # The 8.x client checks the product header, and info()/ping() need the root endpoint.
        info = client.info()
        assert info["version"]["number"].startswith("8.19.") and info["tagline"] == "You Know, for Search"
        assert client.ping()
        client.indices.create(index=index, settings={"number_of_shards": 1, "number_of_replicas": 0},
                              mappings={"properties": {"name": {"type": "text"}, "skills": {"type": "keyword"}}})
        client.index(index=index, id="m1", document={"name": "Ada Lovelace", "skills": ["mentoring"]},
                     refresh=True)
        hits = client.search(index=index, query={"match": {"name": "lovelace"}})["hits"]["hits"]
        assert [hit["_id"] for hit in hits] == ["m1"]
        assert hits[0]["_source"]["skills"] == ["mentoring"]
    finally:
        client.indices.delete(index=index, ignore_unavailable=True)
        client.close()


def _message(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "connect@example.org"
    message["To"] = "mentor@example.org"
    message["Subject"] = subject
    message.set_content("You have a new mentoring proposal.")
    return message


def test_smtp_sink_receives(smtp_sink) -> None:
    smtp_sink.clear()
    subject = "New proposal %s" % _suffix()
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as client:
        client.send_message(_message(subject))
    [received] = smtp_sink.wait_for(1)
    assert received.subject == subject
    assert received.mail_from == "connect@example.org"
    assert received.rcpt_tos == ("mentor@example.org",)
    assert "new mentoring proposal" in received.text
    assert received.path is not None and received.path.read_bytes() == received.data


def test_smtp_sink_programmed_temporary_failures(smtp_sink) -> None:
    smtp_sink.clear()
    smtp_sink.program(451, 451, 451)
    codes = []
    for _ in range(5):
        try:
            with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as client:
                client.send_message(_message("Retry me"))
        except smtplib.SMTPDataError as exc:
            codes.append(exc.smtp_code)
            continue
        codes.append(250)
        break
    assert codes == [451, 451, 451, 250]
    assert [attempt.code for attempt in smtp_sink.attempts] == [451, 451, 451, 250]
    assert [m.subject for m in smtp_sink.messages] == ["Retry me"]


def test_detached_engine_can_be_found_and_stopped(tmp_path) -> None:
    from stack.engines.base import EngineError
    from stack.engines.redis import RedisEngine

    from tests.engines import engine_unavailable

    if shutil.which("redis-server") is None:
        engine_unavailable("redis (local launcher)", "redis-server is not installed")
    data_dir = tmp_path / "redis"
    engine = RedisEngine(data_dir, detached=True)
    failure = None
    try:
        engine.start()
    except EngineError as exc:
        failure = exc
    if failure is not None:
        engine_unavailable("redis (local launcher)", str(failure.args[0]), failure.log_tail)
    try:
        found = RedisEngine.attach(data_dir)
        assert found is not None and found.url == engine.url and found.pid == engine.pid
        with pytest.raises(EngineError, match="already runs"):
            RedisEngine(data_dir, detached=True).start()
        assert RedisEngine.stop_detached(data_dir) is True
        assert RedisEngine.attach(data_dir) is None
        assert RedisEngine.stop_detached(data_dir) is False
    finally:
        engine.stop()
