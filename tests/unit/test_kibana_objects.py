"""The Kibana saved objects under deploy/kibana/ are held to the ops mirror:
valid NDJSON, every reference resolves inside the file, and every field a
visualisation or the data view uses is mapped by services/ops/domain/mirror.py
with a type that use accepts (tests/kibana_objects.py; the integration test holds
them to the mapping a real Elasticsearch node built)."""

from __future__ import annotations

import json
import re

from services.ops.domain.mirror import mapping
from connect.settings import SearchSettings
from schemas.events import EVENT_TYPES
from tests.kibana_objects import OBJECTS, field_uses, problems
from tests.kibana_objects import of_type as _of_type

PROPERTIES = mapping("flattened")["properties"]
BY_KEY = {(obj["type"], obj["id"]): obj for obj in OBJECTS}


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


def test_every_field_used_is_mapped_with_a_type_its_use_accepts() -> None:
    assert {use.use for use in field_uses()} >= {"time field", "date_histogram", "avg", "median", "terms", "query"}
    assert problems(PROPERTIES) == []
    # The check can fail: a figure mapped as a keyword, or a field not mapped at all, is caught.
    broken = problems({**PROPERTIES, "accepted": {"type": "keyword"}})
    assert len(broken) == 2 and all(": accepted is keyword, " in problem for problem in broken), broken
    assert problems({name: spec for name, spec in PROPERTIES.items() if name != "day"}) == [
        "connect-reminders-sent: day (terms) is not mapped"]


def test_visualisations_filter_on_known_event_types() -> None:
    titles = set()
    for vis in _of_type("visualization"):
        attributes = vis["attributes"]
        titles.add(attributes["title"])
        source = json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])
        assert source["indexRefName"] in {ref["name"] for ref in vis["references"]}
        for event_type in re.findall(r'type\s*:\s*"(\w+)"', source["query"]["query"]):
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
