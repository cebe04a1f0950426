"""What the Kibana saved objects in deploy/kibana/ ask of the `connect-events-*` mapping.

Kibana cannot run here, so its objects are held to a mapping instead: the one services/ops/domain/mirror.py
declares (tests/unit/test_kibana_objects.py) and the one an Elasticsearch node actually built
from the mirror's index template (tests/integration/ops/test_kibana_mapping.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from services.ops.commands import saved_objects_path

OBJECTS: list[dict[str, Any]] = [json.loads(line) for line in saved_objects_path().read_text().splitlines()
                                 if line.strip()]

NUMERIC = frozenset({"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float",
                     "unsigned_long"})
DATES = frozenset({"date", "date_nanos"})
# The mapping types Kibana accepts a field of for each use (aggregation, time field, format, query).
ACCEPTS: dict[str, frozenset[str]] = {
    "time field": DATES,
    "date_histogram": DATES,
    "avg": NUMERIC, "median": NUMERIC, "sum": NUMERIC, "min": NUMERIC, "max": NUMERIC, "percentiles": NUMERIC,
    "terms": frozenset({"keyword", "boolean", "ip"}) | NUMERIC | DATES,
    "format percent": NUMERIC, "format duration": NUMERIC, "format number": NUMERIC,
    "query": frozenset({"keyword", "text", "boolean", "ip", "flattened", "flat_object"}) | NUMERIC | DATES,
}


@dataclass(frozen=True)
class FieldUse:
    object_id: str
    field: str
    use: str


def of_type(kind: str) -> list[dict[str, Any]]:
    return [obj for obj in OBJECTS if obj["type"] == kind]


def field_uses() -> list[FieldUse]:
    """Every field the data view and the visualisations name, with what they use it for."""
    uses = []
    for view in of_type("index-pattern"):
        attributes = view["attributes"]
        uses.append(FieldUse(view["id"], attributes["timeFieldName"], "time field"))
        for field, spec in json.loads(attributes.get("fieldFormatMap") or "{}").items():
            uses.append(FieldUse(view["id"], field, f"format {spec['id']}"))
    for vis in of_type("visualization"):
        attributes = vis["attributes"]
        for agg in json.loads(attributes["visState"])["aggs"]:
            if agg["params"].get("field"):
                uses.append(FieldUse(vis["id"], agg["params"]["field"], agg["type"]))
        query = json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]
        uses += [FieldUse(vis["id"], field, "query") for field in re.findall(r"([\w.]+)\s*:", query)]
    return uses


def _field(properties: dict[str, Any], path: str) -> dict[str, Any] | None:
    head, _, rest = path.partition(".")
    spec = properties.get(head)
    if spec is None or not rest:
        return spec
    if spec.get("type") in ("flattened", "flat_object"):
        return {"type": "keyword"}  # a leaf of a flattened object is searched as a keyword
    return _field(spec.get("properties") or {}, rest)


def problems(properties: dict[str, Any]) -> list[str]:
    """What in the saved objects the mapping ``properties`` cannot serve; empty when all fits."""
    found = []
    for use in field_uses():
        spec = _field(properties, use.field)
        if spec is None:
            found.append(f"{use.object_id}: {use.field} ({use.use}) is not mapped")
        elif spec.get("type", "object") not in ACCEPTS[use.use]:
            found.append(f"{use.object_id}: {use.field} is {spec.get('type', 'object')}, {use.use} needs one of "
                         f"{sorted(ACCEPTS[use.use])}")
        elif spec.get("index") is False or spec.get("enabled") is False:
            found.append(f"{use.object_id}: {use.field} ({use.use}) is not indexed")
    return found
