"""Generate the published event contract from the pydantic models in `schemas.events`.

Writes, under `schemas/generated/`:
  envelope.json                      JSON Schema of the envelope every event travels in
  events/<topic>/<Type>.json         JSON Schema of each event's `data`
  asyncapi.yaml                      AsyncAPI 3.0: one channel per topic, one message per event type

`python -m schemas.generate` rewrites them; `--check` exits 1 when the committed
files differ from the models; `--update-baseline` also copies the result to
`generated/baseline/`, the reference the compatibility test compares against
(do that when a version of the contract is released).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic.json_schema import models_json_schema

from schemas import events as event_models
from schemas.events import EVENT_TYPES, Envelope, EventData

GENERATED = Path(__file__).resolve().parent / "generated"
BASELINE = GENERATED / "baseline"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _dump_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _event_types() -> list[type[EventData]]:
    return sorted(EVENT_TYPES.values(), key=lambda cls: (cls.TOPIC, cls.TYPE))


def event_schema(cls: type[EventData]) -> dict[str, Any]:
    schema = cls.model_json_schema(mode="validation")
    schema.update({
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"events/{cls.TOPIC}/{cls.TYPE}.json",
        "title": cls.TYPE,
        "x-topic": cls.TOPIC,
        "x-version": cls.VERSION,
    })
    return schema


def envelope_schema() -> dict[str, Any]:
    schema = Envelope.model_json_schema(mode="validation")
    schema.update({"$schema": JSON_SCHEMA_DIALECT, "$id": "envelope.json", "x-version": event_models.ENVELOPE_VERSION})
    return schema


def _channel_id(topic: str) -> str:
    parts = topic.split(".")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def asyncapi_document() -> dict[str, Any]:
    types = _event_types()
    _, defs = models_json_schema([(cls, "validation") for cls in [Envelope, *types]],
                                 ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(sorted(defs.get("$defs", {}).items()))
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for cls in types:
        # The message payload is the envelope with `type`, `version` and `data` pinned to this event.
        schemas[f"{cls.TYPE}Envelope"] = {
            "allOf": [
                {"$ref": "#/components/schemas/Envelope"},
                {"type": "object", "properties": {
                    "type": {"const": cls.TYPE},
                    "version": {"const": cls.VERSION},
                    "data": {"$ref": f"#/components/schemas/{cls.__name__}"},
                }},
            ],
        }
        messages[cls.TYPE] = {
            "name": cls.TYPE,
            "title": cls.TYPE,
            "summary": " ".join((cls.__doc__ or cls.TYPE).split()),
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{cls.TYPE}Envelope"},
            "bindings": {"kafka": {"key": {"type": "string",
                                           "description": "relationship or member id: the partition key"}}},
        }
        channel_id = _channel_id(cls.TOPIC)
        channel = channels.setdefault(channel_id, {"address": cls.TOPIC, "messages": {}})
        channel["messages"][cls.TYPE] = {"$ref": f"#/components/messages/{cls.TYPE}"}
    for channel_id, channel in channels.items():
        operations[f"publish{channel_id[:1].upper()}{channel_id[1:]}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{name}"} for name in channel["messages"]],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Connect events",
            "version": str(event_models.ENVELOPE_VERSION),
            "description": "Every state change of Connect, published through a transactional outbox. "
                           "At-least-once: consumers dedupe on event_id and skip unknown types.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> dict[str, str]:
    """Every generated file, relative to `generated/`, with its exact text."""
    files = {"envelope.json": _dump_json(envelope_schema())}
    for cls in _event_types():
        files[f"events/{cls.TOPIC}/{cls.TYPE}.json"] = _dump_json(event_schema(cls))
    files["asyncapi.yaml"] = yaml.safe_dump(asyncapi_document(), sort_keys=False, allow_unicode=True, width=100)
    return files


def committed(folder: Path = GENERATED) -> dict[str, str]:
    """The generated files on disk (the baseline folder excluded)."""
    return {path.relative_to(folder).as_posix(): path.read_text()
            for path in sorted(folder.rglob("*"))
            if path.is_file() and (folder == BASELINE or BASELINE not in path.parents)}


def write(folder: Path = GENERATED) -> list[str]:
    files = render()
    for stale in set(committed(folder)) - set(files):
        (folder / stale).unlink()
    for name, text in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return sorted(files)


def update_baseline() -> None:
    shutil.rmtree(BASELINE, ignore_errors=True)
    for name, text in render().items():
        if name.endswith(".json"):
            target = BASELINE / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)


_ANNOTATIONS = {"title", "description", "examples"}


def _shape(schema: Any) -> Any:
    """A property's type information without annotations that may change freely."""
    if isinstance(schema, dict):
        return {k: _shape(v) for k, v in schema.items() if k not in _ANNOTATIONS}
    if isinstance(schema, list):
        return [_shape(v) for v in schema]
    return schema


def _object_breaks(old: dict[str, Any], new: dict[str, Any], where: str) -> list[str]:
    problems = []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, old_prop in old_props.items():
        if name not in new_props:
            problems.append(f"{where}: field {name!r} was removed")
        elif _shape(old_prop) != _shape(new_prop := new_props[name]):
            problems.append(f"{where}: field {name!r} changed type from {_shape(old_prop)} to {_shape(new_prop)}")
    for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
        problems.append(f"{where}: field {name!r} became required")
    for name, old_def in old.get("$defs", {}).items():
        if name not in new.get("$defs", {}):
            problems.append(f"{where}: shared type {name!r} was removed")
        else:
            problems.extend(_object_breaks(old_def, new["$defs"][name], f"{where}#{name}"))
    return problems


def incompatibilities(baseline: dict[str, str], current: dict[str, str]) -> list[str]:
    """What in `current` breaks consumers of `baseline` within a topic version (JSON Schema files
    by path, as `render()` gives them).  Allowed: new optional fields, new event types, new topics."""
    problems = []
    for name, old_text in sorted(baseline.items()):
        if not name.endswith(".json"):
            continue
        if name not in current:
            problems.append(f"{name}: the event type was removed from its topic version")
            continue
        problems.extend(_object_breaks(json.loads(old_text), json.loads(current[name]), name))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed files are out of date")
    parser.add_argument("--update-baseline", action="store_true",
                        help="also make the result the compatibility baseline (on release)")
    args = parser.parse_args(argv)
    if args.check:
        drift = sorted(set(render().items()) ^ set(committed().items()))
        if drift:
            print("out of date: " + ", ".join(sorted({name for name, _ in drift})), file=sys.stderr)
            return 1
        return 0
    written = write()
    if args.update_baseline:
        update_baseline()
    print(f"wrote {len(written)} files to {GENERATED}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
