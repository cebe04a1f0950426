"""The Kibana saved objects under deploy/kibana/ are held to the ops mirror:
valid NDJSON, every reference resolves inside the file, and every field a
visualisation aggregates or filters on is mapped by services/ops/domain/mirror.py."""

from __future__ import annotations

import json
import re
from typing import Any

from services.ops.commands import saved_objects_path
from services.ops.domain.mirror import mapping
from connect.settings import SearchSettings
from schemas.events import EVENT_TYPES

PROPERTIES = mapping("flattened")["properties"]
OBJECTS: list[dict[str, Any]] = [json.loads(line) for line in saved_objects_path().read_text().splitlines()
                                 if line.strip()]
BY_KEY = {(obj["type"], obj["id"]): obj for obj in OBJECTS}


def _of_type(kind: str) -> list[dict[str, Any]]:
    return [obj for obj in OBJECTS if obj["type"] == kind]


def test_objects_are_unique_and_every_reference_resolves_in_the_file() -> None:
    assert len(BY_KEY) == len(OBJECTS), "duplicate saved object ids"
    for obj in OBJECTS:
        assert {"id", "type", "attributes", "references"} <= set(obj), obj.get("id")
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in BY_KEY, (obj["id"], ref)


def test_the_data_view_is_on_the_ops_indices() -> None:
    (view,) = _of_type("index-pattern")
    attributes = view["attributes"]
    assert attributes["title"] == SearchSettings().ops_index_prefix + "-*"
    assert PROPERTIES[attributes["timeFieldName"]]["type"] == "date"
    assert set(json.loads(attributes["fieldFormatMap"])) <= set(PROPERTIES)


def test_visualisations_use_only_mapped_fields_and_known_event_types() -> None:
    titles = set()
    for vis in _of_type("visualization"):
        attributes = vis["attributes"]
        titles.add(attributes["title"])
        state = json.loads(attributes["visState"])
        for agg in state["aggs"]:
            field = agg["params"].get("field")
            assert field is None or field in PROPERTIES, (vis["id"], field)
        source = json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])
        assert source["indexRefName"] in {ref["name"] for ref in vis["references"]}
        query = source["query"]["query"]
        for field in re.findall(r"([\w.]+)\s*:", query):
            assert field in PROPERTIES, (vis["id"], field)
        for event_type in re.findall(r'type\s*:\s*"(\w+)"', query):
            assert event_type in EVENT_TYPES, (vis["id"], event_type)
    assert {"Proposals per day", "Acceptance rate", "Median time to first answer", "Reminders sent",
            "Expiries"} <= titles


def test_the_dashboard_shows_every_visualisation() -> None:
    (dashboard,) = _of_type("dashboard")
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    refs = {ref["name"]: ref for ref in dashboard["references"]}
    shown = {refs[panel["panelRefName"]]["id"] for panel in panels}
    assert shown == {vis["id"] for vis in _of_type("visualization")}
    slots = [panel["gridData"]["i"] for panel in panels]
    assert len(set(slots)) == len(slots)
