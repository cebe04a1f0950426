"""The test node's stand-in (deploy/engines/elasticsearch/standin/StandInPlugin.java) behaves as
the modules it stands in for.

Its analysis components must tokenise exactly as analysis-common does. OpenSearch still ships
that module (forked from Elasticsearch's, on the same Lucene classes), so every case is run
through `_analyze` on both nodes and the tokens, offsets, positions and types must be equal,
with the analyzer Connect's earlier indices were made with (tests/contract/search/earlier_index.py:
an upgrade test creates one) and with each setting and default the stand-in reads."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.contract.search.earlier_index import ANALYSIS

TEXTS = [
    "Catastrophe reinsurance: treaty-broker's placements in Bermuda (2019–2024)!",
    "Ünïcödé naïve café ÉCOLE straße Ångström 東京 海上 underwriting",
    "a" * 39 + " " + "b" * 40 + " " + "c" * 41 + " running runners ran",
    "e-mail  tab\there\nnew line   CAPITALS MiXeD 42nd x86_64 snake_case",
    "",
]


def _connect_english() -> dict[str, Any]:
    """The earlier mentor index's analyzer, inlined for `_analyze` (no index needed)."""
    analyzer = ANALYSIS["analyzer"]["connect_english"]
    return {"tokenizer": ANALYSIS["tokenizer"][analyzer["tokenizer"]],
            "filter": [ANALYSIS["filter"].get(name, name) for name in analyzer["filter"]]}


CHAINS = {
    "connect_english": _connect_english(),
    "pattern defaults": {"tokenizer": "pattern"},
    "pattern group and flags": {"tokenizer": {"type": "pattern", "pattern": "([a-z]+)ing", "group": 1,
                                              "flags": "CASE_INSENSITIVE"}},
    "length defaults": {"tokenizer": "standard", "filter": ["length"]},
    "length min": {"tokenizer": "standard", "filter": [{"type": "length", "min": 4}]},
    "snowball defaults": {"tokenizer": "standard", "filter": ["lowercase", "snowball"]},
    "snowball german": {"tokenizer": "standard", "filter": ["lowercase", {"type": "snowball", "language": "german"}]},
}


def _tokens(url: str, chain: dict[str, Any], text: str) -> list[tuple[Any, ...]] | tuple[int, str]:
    response = httpx.post(f"{url}/_analyze", json={**chain, "text": text}, timeout=30)
    if response.status_code != 200:
        return response.status_code, response.json()["error"]["type"]
    return [(t["token"], t["start_offset"], t["end_offset"], t["position"], t["type"])
            for t in response.json()["tokens"]]


@pytest.mark.parametrize("chain", CHAINS, ids=list(CHAINS))
def test_analysis_components_tokenise_as_analysis_common(chain: str, elasticsearch_url: str,
                                                         opensearch_url: str) -> None:
    real = {text: _tokens(opensearch_url, CHAINS[chain], text) for text in TEXTS}
    for text in TEXTS:
        assert _tokens(elasticsearch_url, CHAINS[chain], text) == real[text], text
    if chain == "connect_english":
        # Not vacuous: the earlier analyzer splits, lowercases, stems, drops the 41-character word.
        assert [t[0] for t in real[TEXTS[0]][:4]] == ["catastroph", "reinsur", "treati", "broker"]  # type: ignore[index]
        assert "c" * 41 not in [t[0] for t in real[TEXTS[2]]] and "b" * 40 in [t[0] for t in real[TEXTS[2]]]  # type: ignore[index]


def test_a_setting_the_module_refuses_is_refused_alike(elasticsearch_url: str, opensearch_url: str) -> None:
    chain = {"tokenizer": "standard", "filter": [{"type": "length", "max": 3, "enable_position_increments": True}]}
    refused = _tokens(elasticsearch_url, chain, "abc defg")
    assert refused == _tokens(opensearch_url, chain, "abc defg")
    assert refused == (400, "illegal_argument_exception")


def test_the_root_endpoint_answers_as_rest_root_does(elasticsearch_url: str) -> None:
    root = httpx.get(elasticsearch_url, timeout=10)
    assert root.status_code == 200 and root.headers["x-elastic-product"] == "Elasticsearch"
    body = root.json()
    assert set(body) == {"name", "cluster_name", "cluster_uuid", "version", "tagline"}
    assert set(body["version"]) == {"number", "build_flavor", "build_type", "build_hash", "build_date",
                                    "build_snapshot", "lucene_version", "minimum_wire_compatibility_version",
                                    "minimum_index_compatibility_version"}
    health = httpx.get(f"{elasticsearch_url}/_cluster/health", timeout=10).json()
    assert body["cluster_name"] == health["cluster_name"]
    head = httpx.head(elasticsearch_url, timeout=10)
    assert head.status_code == 200 and head.content == b""
