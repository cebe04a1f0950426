"""The offline formula comparison (bench/matching_variants.py) ranks as the engines list and
order: words-only lists only word matches, meaning lists the nearest above the floor, ties by id."""

import numpy as np

from bench.matching_variants import half, ranked


def feature(words, cosines):
    ids = [f"M{i}" for i in range(len(words))]
    cos = np.array(cosines, dtype=float)
    return {"ids": ids, "words": np.array(words, dtype=float), "mean": cos, "max": cos, "top2": cos}


def test_the_split_is_fixed_by_need_id():
    assert [half(n) for n in ("N001", "N002", "N077", "N078")] == ["dev", "test", "dev", "test"]


def test_words_only_lists_mentors_sharing_a_word_ties_by_id():
    f = feature([0.5, 0.0, 0.5, 1.0], [0.9, 0.9, 0.9, 0.9])
    assert ranked(f, "mean", 0.1, 0.5, share=0.0, candidates=10) == ["M3", "M0", "M2"]


def test_meaning_only_lists_the_nearest_above_the_floor():
    f = feature([1.0, 0.0, 0.0, 0.0], [0.05, 0.3, 0.45, 0.2])
    # M0 is below the floor: not listed however many words it shares; only 2 candidates are taken.
    assert ranked(f, "max", 0.1, 0.5, share=None, candidates=2) == ["M2", "M1"]


def test_hybrid_weighs_words_and_meaning_by_the_share():
    f = feature([1.0, 0.0, 0.0], [0.1, 0.5, 0.3])
    # m = 0.75: M1 (meaning 1) 0.75 beats M0 (words 1, meaning 0) 0.25; m = 0.25 the other way round.
    assert ranked(f, "top2", 0.1, 0.5, share=0.75, candidates=10) == ["M1", "M2", "M0"]
    assert ranked(f, "top2", 0.1, 0.5, share=0.25, candidates=10) == ["M0", "M1", "M2"]


def test_rank_fusion_adds_reciprocal_ranks_of_both_orders():
    f = feature([1.0, 0.5, 0.0], [0.2, 0.4, 0.3])
    # words order M0 M1 M2, meaning order M1 M2 M0: M1 has ranks 2 and 1, the best sum.
    assert ranked(f, "mean", 0.1, 0.5, share=0.5, candidates=10, fusion="rrf") == ["M1", "M0", "M2"]
