"""Which meaning formula to rank by, chosen on half of the judged set and checked on the other.

    python -m bench.matching_variants

The judged set's needs are split once, by need id: odd numbers (N001, N003, ...) are the *dev*
half, even numbers the *test* half; every topic has needs in both.  The mentors go through the
real path (`bench.matching_quality.loaded_service`: the configured model, passages cached by the
indexer), the words' part of each need's score comes from the embedded engine (a words-only
search, every page), and the meaning part is recomputed here for each variant:

* S from the passages' cosines with the need: `mean` (the cosine with the profile vector, the
  normalised mean of the passages: the formula before this benchmark), `max` (the best passage),
  `top2` (the mean of the best two);
* the calibration: floor and full similarity of `meaning.relevance`;
* m, the share of meaning in the text part when a search has words too.

A hybrid score is (1 − m) × L + m × S (L the words' share found, as the engine gives it); a mentor
is listed when it shares a word or is among the SEMANTIC_CANDIDATES nearest with S > 0, as every
engine does.  Each variant's nDCG@10 and recall@20 is printed on both halves; the choice is the
best on dev, and the test half says whether it holds.  Results in
bench/results/matching_variants.json.  The judged set is never changed here.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import machine
from bench._judged_set import load
from bench.matching_quality import loaded_service, ndcg_at, recall_at

RESULTS = Path(__file__).resolve().parent / "results" / "matching_variants.json"
AGGREGATES = ("mean", "max", "top2")
FLOORS = (0.0, 0.1, 0.2)
FULLS = (0.4, 0.5, 0.6, 0.7)
SHARES = (0.5, 0.75, 0.9)
RRF_K = 60  # the usual constant of reciprocal rank fusion (Cormack et al. 2009), not tuned here


def half(need_id: str) -> str:
    return "dev" if int(need_id[1:]) % 2 else "test"


def need_features(service: Any) -> list[dict[str, Any]]:
    """Per need: its words' share L for every mentor (from the engine) and the cosines S is made of."""
    from services.matching.domain import meaning
    from services.matching.domain.search import build_search

    mentors, needs, grades = load()
    ids = [m["member_id"] for m in mentors]
    texts = [meaning.passages(m["headline"], m["bio"], m["expertise"]) for m in mentors]
    vectors = service.passage_vectors.vectors([t for ts in texts for t in ts])
    passage_rows = [np.stack([vectors[t] for t in ts]) for ts in texts]
    profiles = np.stack([meaning.profile_vector(rows) for rows in passage_rows])
    out = []
    for need in needs:
        need_vector = service.need(need["text"], None)
        query = build_search(text=need["text"], size=100)
        words: dict[str, float] = {}
        page = service.index.search(query)
        while True:
            for hit in page.hits:
                # The words-only score: words found (≤ text_max) plus the same idle nudge for all.
                words[hit.member_id] = (hit.score - query.nudge(0)) / query.text_max
            if page.next_cursor is None or not page.hits:
                break
            page = service.index.search(query.continued(page.next_cursor))
        by_passage = [np.sort(meaning.cosines(rows, need_vector.vector))[::-1] for rows in passage_rows]
        out.append({
            "need_id": need["need_id"], "grades": grades.get(need["need_id"], {}), "ids": ids,
            "words": np.array([words.get(mid, 0.0) for mid in ids]),
            "mean": meaning.cosines(profiles, need_vector.vector),
            "max": np.array([p[0] for p in by_passage]),
            "top2": np.array([p[:2].mean() for p in by_passage]),
        })
    return out


def ranked(feature: dict[str, Any], aggregate: str, floor: float, full: float, share: float | None,
           candidates: int, fusion: str = "sum") -> list[str]:
    """Member ids in the order the formula gives (share None: meaning only; 0: words only).
    fusion "rrf": reciprocal rank fusion (k = 60) of the words' order and the meaning's order
    instead of the weighted sum (share unused)."""
    cosine = feature[aggregate]
    relevance = np.clip((cosine - floor) / (full - floor), 0.0, 1.0)
    words = feature["words"]
    if fusion == "rrf":
        score = np.zeros(len(words))
        for part in (words, cosine):
            order = np.lexsort((np.array(feature["ids"]), -part))
            score[order] += 1.0 / (RRF_K + 1 + np.arange(len(order)))
        listed = words > 0
    elif share is None:
        score, listed = relevance, np.zeros(len(words), dtype=bool)
    else:
        score = (1 - share) * words + share * relevance
        listed = words > 0
    if share != 0.0:
        nearest = np.argsort(-cosine, kind="stable")[:candidates]
        listed[nearest[relevance[nearest] > 0]] = True
    order = sorted(np.flatnonzero(listed), key=lambda i: (-score[i], feature["ids"][i]))
    return [feature["ids"][i] for i in order]


def per_need(features: list[dict[str, Any]], **formula: Any) -> dict[str, dict[str, list[float]]]:
    from services.matching.domain.meaning import SEMANTIC_CANDIDATES

    out: dict[str, dict[str, list[float]]] = {"dev": {"ndcg@10": [], "recall@20": []},
                                               "test": {"ndcg@10": [], "recall@20": []}}
    for feature in features:
        order = ranked(feature, candidates=SEMANTIC_CANDIDATES, **formula)
        part = out[half(feature["need_id"])]
        part["ndcg@10"].append(ndcg_at(order, feature["grades"]))
        part["recall@20"].append(recall_at(order, feature["grades"]))
    return out


def measure(features: list[dict[str, Any]], **formula: Any) -> dict[str, dict[str, float]]:
    return {name: {k: round(float(np.mean(v)), 3) for k, v in by.items()}
            for name, by in per_need(features, **formula).items()}


def paired(features: list[dict[str, Any]], before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """On the test half: nDCG@10 of `after` minus `before` per need, how many needs won and lost,
    and a 95% bootstrap interval of the mean difference (10,000 resamples of the needs, fixed seed)."""
    diff = (np.array(per_need(features, **after)["test"]["ndcg@10"])
            - np.array(per_need(features, **before)["test"]["ndcg@10"]))
    rng = np.random.default_rng(17)
    means = diff[rng.integers(0, len(diff), size=(10_000, len(diff)))].mean(axis=1)
    return {"needs": len(diff), "mean_difference": round(float(diff.mean()), 3),
            "better": int((diff > 1e-9).sum()), "worse": int((diff < -1e-9).sum()),
            "bootstrap_95": [round(float(np.percentile(means, 2.5)), 3), round(float(np.percentile(means, 97.5)), 3)]}


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--floors", default=",".join(map(str, FLOORS)),
                        help="Calibration floors to try (another model's cosines sit elsewhere).")
    parser.add_argument("--fulls", default=",".join(map(str, FULLS)))
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    floors = [float(x) for x in args.floors.split(",")]
    fulls = [float(x) for x in args.fulls.split(",")]
    results: dict[str, Any] = {"benchmark": "matching_variants", "measured_at": datetime.now(timezone.utc).isoformat(),
                               "machine": machine(), "split": "dev: odd need ids, test: even need ids"}
    with tempfile.TemporaryDirectory(prefix="variants-") as scratch:
        for service in loaded_service({"var_dir": Path(scratch)}):
            results["model"] = service.embedder.model_id
            features = need_features(service)
    rows = [{"mode": "lexical", **measure(features, aggregate="mean", floor=0.1, full=0.5, share=0.0)}]
    for aggregate, floor, full in itertools.product(AGGREGATES, floors, fulls):
        rows.append({"mode": "semantic", "S": aggregate, "floor": floor, "full": full,
                     **measure(features, aggregate=aggregate, floor=floor, full=full, share=None)})
        for share in SHARES:
            rows.append({"mode": "hybrid", "S": aggregate, "floor": floor, "full": full, "m": share,
                         **measure(features, aggregate=aggregate, floor=floor, full=full, share=share)})
    for aggregate in AGGREGATES:  # the floor only decides who is listed by meaning
        rows.append({"mode": "hybrid", "S": aggregate, "floor": 0.1, "full": 0.5, "m": "rrf",
                     **measure(features, aggregate=aggregate, floor=0.1, full=0.5, share=0.5, fusion="rrf")})
    results["variants"] = rows
    print(f"{'mode':<9}{'S':<6}{'floor':>6}{'full':>6}{'m':>6}  {'dev nDCG':>9}{'test nDCG':>10}"
          f"{'dev R@20':>9}{'test R@20':>10}")
    for row in rows:
        print(f"{row['mode']:<9}{row.get('S', ''):<6}{row.get('floor', ''):>6}{row.get('full', ''):>6}"
              f"{row.get('m', ''):>6}  {row['dev']['ndcg@10']:>9.3f}{row['test']['ndcg@10']:>10.3f}"
              f"{row['dev']['recall@20']:>9.3f}{row['test']['recall@20']:>10.3f}")
    for mode in ("semantic", "hybrid"):
        best = max((r for r in rows if r["mode"] == mode), key=lambda r: r["dev"]["ndcg@10"])
        results[f"best_{mode}_on_dev"] = best
        print(f"best {mode} on dev: {json.dumps(best)}")
    # The dev half's choice against the formula before, need by need on the test half.
    before = {"aggregate": "mean", "floor": 0.1, "full": 0.5}
    for mode, share in (("semantic", None), ("hybrid", 0.5)):
        chosen = results[f"best_{mode}_on_dev"]
        fused = chosen.get("m") == "rrf"
        results[f"test_half_{mode}_chosen_vs_before"] = paired(
            features, {**before, "share": share},
            {"aggregate": chosen["S"], "floor": chosen["floor"], "full": chosen["full"],
             "share": 0.5 if fused else chosen.get("m"), "fusion": "rrf" if fused else "sum"})
        print(f"test half, {mode} chosen on dev vs before (mean, 0.1, 0.5{', m 0.5' if share else ''}): "
              f"{json.dumps(results[f'test_half_{mode}_chosen_vs_before'])}")
    args.results.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
