"""What an earlier Connect made on a cluster (analysis version 1): the cluster analysed the text
fields itself with Snowball English, and the mapping's `_meta` had no `analysis` entry.  Kept to
create a real earlier index in upgrade tests; the test node's stand-in plugin still provides
these components (deploy/engines/elasticsearch/standin)."""

from __future__ import annotations

from typing import Any

from services.matching.adapters.search_dsl import KEYWORD_FIELDS, TEXT_FIELDS

ANALYSIS: dict[str, Any] = {
    "tokenizer": {"connect_words": {"type": "pattern", "pattern": "[^\\p{L}\\p{N}]+"}},
    "filter": {
        "connect_long": {"type": "length", "max": 40},
        "connect_stem": {"type": "snowball", "language": "English"},
    },
    "analyzer": {
        "connect_english": {"type": "custom", "tokenizer": "connect_words",
                            "filter": ["connect_long", "lowercase", "connect_stem"]},
    },
}

SETTINGS: dict[str, Any] = {"number_of_shards": 1, "number_of_replicas": 0, "analysis": ANALYSIS}

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        **{name: {"type": "keyword"} for name in KEYWORD_FIELDS},
        **{name: {"type": "text", "analyzer": "connect_english", "similarity": "boolean"} for name in TEXT_FIELDS},
        "name": {"type": "keyword", "index": False},
        "years_experience": {"type": "integer"},
        "load_level": {"type": "integer"},
        "profile": {"type": "object", "enabled": False},
    },
}
