"""The committed event contract (JSON Schema + AsyncAPI) is what the models say, and it only
grows compatibly within a topic version."""

from __future__ import annotations

import json

import yaml

from schemas import generate
from schemas.events import EVENT_TYPES


def test_committed_files_match_the_models():
    expected, on_disk = generate.render(), generate.committed()
    stale = sorted(name for name in set(expected) | set(on_disk) if expected.get(name) != on_disk.get(name))
    assert not stale, f"schemas/generated is out of date ({stale}): run `python -m schemas.generate` and commit"


def test_asyncapi_has_a_channel_per_topic_and_a_message_per_event_type():
    document = yaml.safe_load(generate.render()["asyncapi.yaml"])
    assert document["asyncapi"].startswith("3.")
    addresses = {channel["address"]: set(channel["messages"]) for channel in document["channels"].values()}
    assert addresses == {topic: {cls.TYPE for cls in EVENT_TYPES.values() if cls.TOPIC == topic}
                         for topic in {cls.TOPIC for cls in EVENT_TYPES.values()}}
    schemas = document["components"]["schemas"]
    for name, message in document["components"]["messages"].items():
        pinned = schemas[message["payload"]["$ref"].rsplit("/", 1)[1]]["allOf"][1]["properties"]
        assert pinned["type"] == {"const": name}
        assert pinned["data"]["$ref"].rsplit("/", 1)[1] in schemas


def test_changes_since_the_baseline_are_additive_only():
    baseline = generate.committed(generate.BASELINE)
    assert baseline, "schemas/generated/baseline is missing: run `python -m schemas.generate --update-baseline`"
    assert generate.incompatibilities(baseline, generate.render()) == []


def test_the_compatibility_rule_refuses_breaking_changes_and_allows_additions():
    old = {"properties": {"a": {"type": "string", "title": "A"}, "b": {"type": "integer"}}, "required": ["a"]}

    def check(new: dict) -> list[str]:  # type: ignore[type-arg]
        return generate.incompatibilities({"e.json": json.dumps(old)}, {"e.json": json.dumps(new)})

    added = {"properties": {**old["properties"], "c": {"type": "string"}}, "required": ["a"]}
    retitled = {"properties": {"a": {"type": "string", "title": "Renamed"}, "b": {"type": "integer"}},
                "required": ["a"]}
    assert check(added) == [] and check(retitled) == []
    assert "removed" in " ".join(check({"properties": {"a": {"type": "string"}}, "required": ["a"]}))
    assert "changed type" in " ".join(check({"properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                                             "required": ["a"]}))
    assert "became required" in " ".join(check({**added, "required": ["a", "c"]}))
    assert generate.incompatibilities({"e.json": json.dumps(old)}, {}) == [
        "e.json: the event type was removed from its topic version"]
