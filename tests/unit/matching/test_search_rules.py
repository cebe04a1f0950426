"""The search request as a member makes it: a custom weight changes the order and the match
percentage, each limit is accepted at its boundary and refused one step past it with the field
path, text and meaning add what the query model says, and a cursor carries nothing unbounded.

Example-based and fast on purpose: `make mutation` runs these after each change it makes to
`search.py` and `meaning.py` (docs/testing.md)."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timezone

import numpy as np
import pytest

from services.matching.adapters.search_embedded import EmbeddedSearchIndex
from services.matching.domain import meaning
from services.matching.domain.profiles import Location, MentorProfile, index_document
from services.matching.domain.search import (BOOST_STEP, Criterion, Cursor, InvalidSearch, Meaning, SearchQuery,
                                             TextClause, build_search, query_terms)

SECTOR, EXPERTISE = "general_insurance", "career_planning"


def refused(**request) -> list[tuple[str, str]]:
    with pytest.raises(InvalidSearch) as invalid:
        build_search(**request)
    return list(invalid.value.errors)


def mentor(member_id: str, level: int = 0, **profile) -> dict:
    return index_document(member_id, member_id, MentorProfile(**profile), level)


# --- weights: what a member who sets them sees -------------------------------------------------

def test_a_custom_weight_changes_the_order_and_the_percentage(tmp_path):
    by_expertise = mentor("A", expertise=[EXPERTISE])
    by_sector = mentor("B", sectors=[SECTOR])
    index = EmbeddedSearchIndex(tmp_path, "weights")
    build = index.begin_build()
    build.add([by_expertise, by_sector])
    build.swap(datetime(2026, 12, 1, tzinfo=timezone.utc))
    try:
        criteria = {"expertise": [EXPERTISE], "sectors": [SECTOR]}
        default = build_search(criteria=criteria)
        assert [hit.member_id for hit in index.search(default).hits] == ["A", "B"]  # expertise 3 beats sectors 2
        assert [default.match_percent(default.matched(d), 0, 0) for d in (by_expertise, by_sector)] == [60, 40]
        custom = build_search(criteria=criteria, weights={"sectors": 12})
        assert [hit.member_id for hit in index.search(custom).hits] == ["B", "A"]
        assert [custom.match_percent(custom.matched(d), 0, 0) for d in (by_expertise, by_sector)] == [20, 80]
        tiny = build_search(criteria=criteria, weights={"expertise": 0.001})  # rounds up to the smallest step
        assert [hit.member_id for hit in index.search(tiny).hits] == ["B", "A"]
        assert [tiny.match_percent(tiny.matched(d), 0, 0) for d in (by_expertise, by_sector)] == [1, 99]
    finally:
        index.close()


@pytest.mark.parametrize("given, resolved", [
    (100, 100.0), (12, 12.0), (0.5, 0.5), (1.01, 65 / 64), (0.001, 1 / 64), (1 / 64, 1 / 64), (2.99, 191 / 64),
])
def test_a_weight_is_kept_in_64ths_and_never_below_one(given, resolved):
    [criterion] = build_search(criteria={"sectors": [SECTOR]}, weights={"sectors": given}).criteria
    assert criterion.weight == resolved


def test_default_weights_favour_expertise_then_sectors_then_region():
    query = build_search(criteria={"expertise": [EXPERTISE], "sectors": [SECTOR], "region": "london",
                                   "languages": "en", "years_experience": 3, "interests": "chess", "country": "GB",
                                   "career_stage": "mid", "interaction_modes": "video", "qualifications": "acii"})
    assert {c.name: c.weight for c in query.criteria} == {
        "expertise": 3.0, "sectors": 2.0, "region": 1.5, "languages": 1.0, "years_experience": 1.0, "interests": 1.0,
        "country": 1.0, "career_stage": 1.0, "interaction_modes": 1.0, "qualifications": 1.0}


@pytest.mark.parametrize("weight, error", [
    (0, "must be greater than 0 and at most 100"),
    (-1, "must be greater than 0 and at most 100"),
    (100.01, "must be greater than 0 and at most 100"),
    (200, "must be greater than 0 and at most 100"),
    (math.nan, "must be a number"),
    (math.inf, "must be a number"),
    (True, "must be a number"),
    ("3", "must be a number"),
])
def test_a_weight_out_of_bounds_is_refused_with_its_path(weight, error):
    assert refused(criteria={"sectors": [SECTOR]}, weights={"sectors": weight}) == [("weights.sectors", error)]


def test_a_weight_for_an_unknown_criterion_or_by_its_alias():
    assert refused(weights={"colour": 2}) == [("weights.colour", "unknown criterion")]
    [region] = build_search(criteria={"region": "london"}, weights={"location.region": 5}).criteria
    assert region.weight == 5.0


# --- the request's limits -------------------------------------------------------------------

def test_text_and_page_size_limits():
    build_search(text="x" * 500, size=1)
    build_search(size=100)
    assert refused(text="x" * 501) == [("text", "at most 500 characters")]
    assert refused(size=0) == [("page.size", "must be between 1 and 100")]
    assert refused(size=101) == [("page.size", "must be between 1 and 100")]


@pytest.mark.parametrize("years, ok", [(0, True), (70, True), (71, False), (-1, False), (True, False), ("5", False),
                                       (5.0, False)])
def test_years_of_experience_are_whole_years_up_to_70(years, ok):
    if ok:
        [criterion] = build_search(criteria={"years_experience": years}).criteria
        assert (criterion.minimum, criterion.values) == (years, ())
    else:
        assert refused(criteria={"years_experience": years}) == [
            ("criteria.years_experience", "must be a whole number of years between 0 and 70")]


def test_a_criterion_gives_between_1_and_50_values():
    build_search(criteria={"interests": [f"tag {n}" for n in range(50)]})
    assert refused(criteria={"interests": [f"tag {n}" for n in range(51)]}) == [
        ("criteria.interests", "give between 1 and 50 values")]
    assert refused(criteria={"interests": []}) == [("criteria.interests", "give between 1 and 50 values")]


def test_each_bad_value_is_named_by_its_index_or_by_the_criterion_when_single():
    assert refused(criteria={"interests": ["ok", " ", "t" * 101, 7]}) == [
        ("criteria.interests.1", "must be a non-empty string of at most 100 characters"),
        ("criteria.interests.2", "must be a non-empty string of at most 100 characters"),
        ("criteria.interests.3", "must be a non-empty string of at most 100 characters")]
    assert refused(criteria={"interests": ""}) == [
        ("criteria.interests", "must be a non-empty string of at most 100 characters")]
    build_search(criteria={"interests": "t" * 100})
    assert refused(criteria={"sectors": (SECTOR, "space")}) == [
        ("criteria.sectors.1", "'space' is not a known sectors id (see GET /v1/taxonomy)")]
    assert refused(filters={"country": "ZZ"}) == [("filters.country", "'ZZ' is not an ISO 3166-1 alpha-2 country code")]


def test_an_unknown_or_repeated_criterion_is_refused():
    assert refused(criteria={"colour": "red"}) == [(
        "criteria.colour", "unknown criterion; one of career_stage, country, expertise, interaction_modes, interests, "
                           "languages, qualifications, region, sectors, years_experience")]
    assert refused(criteria={"region": "london", "location.region": "london"}) == [
        ("criteria.location.region", "given twice")]


def test_free_tags_are_normalised_countries_upper_cased_and_controlled_ids_kept_as_given():
    query = build_search(criteria={"interests": ["  Chess  CLUB", "chess club", "Golf"], "country": ["gb", "GB"],
                                   "expertise": [EXPERTISE, EXPERTISE]},
                         filters={"location.country": "fr", "interests": " Sailing "})
    assert [(c.name, c.values) for c in query.criteria] == [("interests", ("chess club", "golf")),
                                                            ("country", ("GB",)), ("expertise", (EXPERTISE,))]
    assert [(c.name, c.values, c.weight) for c in query.filters] == [("country", ("FR",), 0.0),
                                                                      ("interests", ("sailing",), 0.0)]
    assert refused(criteria={"expertise": "Career_Planning"})[0][0] == "criteria.expertise"


def test_the_searcher_and_the_excluded_are_left_out_once_each():
    assert build_search(searcher_id="M1", exclude_ids=["M3", "M1", "M2"]).exclude_ids == ("M1", "M2", "M3")
    assert build_search(exclude_ids=("M2",)).exclude_ids == ("M2",)
    assert build_search().exclude_ids == ()


def test_every_fault_of_a_request_is_named_at_once():
    assert [path for path, _ in refused(text="x" * 501, size=0, weights={"x": 1}, criteria={"sectors": []},
                                        filters={"colour": 1})] == [
        "text", "page.size", "weights.x", "criteria.sectors", "filters.colour"]


def test_the_fingerprint_tells_searches_apart():
    base = dict(text="claims", criteria={"sectors": [SECTOR]}, weights={"sectors": 2.5}, filters={"languages": "en"},
                exclude_ids=["M9"])
    fingerprint = build_search(**base).fingerprint
    assert len(fingerprint) == 16 and build_search(**base).fingerprint == fingerprint
    vector = meaning.quantise(np.array([[0.2, -0.5, 1.0]]))[0]
    for change in (dict(text="pensions"), dict(criteria={"sectors": ["life_pensions"]}), dict(weights={"sectors": 3}),
                   dict(filters={"languages": "cy"}), dict(exclude_ids=["M8"]), dict(searcher_id="M7"),
                   dict(meaning=Meaning(vector)), dict(size=5)):
        assert (build_search(**{**base, **change}).fingerprint != fingerprint) is ("size" not in change), change
    text, goals = Meaning(vector, "text", "m1"), Meaning(vector, "mentee_goals", "m1")
    assert build_search(meaning=text).fingerprint != build_search(meaning=goals).fingerprint


# --- the query's words ---------------------------------------------------------------------

def test_query_words_are_lower_cased_without_stop_words_repeats_or_overlong_words():
    assert query_terms("The CLAIMS of claims, and Pensions!") == ("claims", "pensions")
    assert query_terms("a" * 40 + " " + "b" * 41) == ("a" * 40,)
    assert query_terms(" ".join(f"w{n}" for n in range(20))) == tuple(f"w{n}" for n in range(16))
    assert query_terms("") == ()


# --- what a result shows ----------------------------------------------------------------------

def test_a_criterion_is_met_by_the_values_both_have_or_by_enough_years():
    wanted = Criterion("languages", "languages", values=("cy", "en", "fr"))
    assert wanted.met_by({"languages": ["en", "cy"]}) == ["cy", "en"]
    assert wanted.met_by({"languages": ["de"]}) is None and wanted.met_by({}) is None
    years = Criterion("years_experience", "years_experience", minimum=10)
    assert (years.met_by({"years_experience": 10}), years.met_by({"years_experience": 9})) == ([10], None)
    assert years.met_by({}) is None
    assert Criterion("years_experience", "years_experience", minimum=0).met_by({}) == [0]


def test_the_matched_criteria_and_their_percentage():
    query = build_search(criteria={"expertise": [EXPERTISE], "years_experience": 5}, weights={"years_experience": 1})
    doc = mentor("A", expertise=[EXPERTISE], years_experience=3)
    assert query.matched(doc) == [{"criterion": "expertise", "values": [EXPERTISE], "weight": 3.0}]
    assert query.match_percent(query.matched(doc), 3.0, 0) == 75
    assert query.match_percent([], 0.0, 0) == 0


def test_a_text_only_percentage_is_the_share_of_the_most_text_can_add():
    query = build_search(text="claims pensions")  # text_max: half the smallest weight (1) = 0.5
    assert query.match_percent([], 0.5 + query.nudge(0), 0) == 100
    assert query.match_percent([], 0.25 + query.nudge(2), 2) == 50
    assert query.match_percent([], 0.5 + 0.2, 4) == 100  # never above 100
    assert query.match_percent([], 0.01, 0) == 0  # less than its own nudge: nothing from the text
    assert query.match_percent([], 0.49, 4) == 98
    assert build_search().match_percent([], 0.0, 0) == 100  # no criteria, no text: everyone fits
    needs = build_search(meaning=Meaning(np.array([1, 0], dtype=np.int8)))
    assert needs.match_percent([], 0.25, 4) == 50


def test_the_load_nudge_favours_the_idle_in_4096ths():
    query = build_search(criteria={"sectors": [SECTOR]}, weights={"sectors": 2})
    assert [query.nudge(level) for level in range(5)] == [819 / 4096, 614 / 4096, 409 / 4096, 204 / 4096, 0.0]
    assert build_search().nudge(0) == 409 / 4096


def test_each_word_scores_its_best_field_in_4096ths():
    query = build_search(text="claims pensions", criteria={"sectors": [SECTOR]}, weights={"sectors": 2})
    # text_max = 0.5 x 2 = 1, shared by two words; the bio counts 0.6 of a title word.
    assert query.text_clauses() == [
        [TextClause(word, "headline", 0.5), TextClause(word, "expertise_text", 0.5),
         TextClause(word, "bio", 1228 / 4096)] for word in ("claims", "pensions")]
    assert build_search(criteria={"sectors": [SECTOR]}).text_clauses() == []
    with_need = build_search(text="claims", meaning=Meaning(np.array([1, 0], dtype=np.int8)))
    assert with_need.text_clauses() == [[TextClause("claims", "headline", 0.25),
                                         TextClause("claims", "expertise_text", 0.25),
                                         TextClause("claims", "bio", 614 / 4096)]]


def test_meaning_adds_up_to_its_share_in_4096ths():
    need = Meaning(np.array([3, 4], dtype=np.int8), model_id="m1")
    cosines = np.array([0.0, 0.1, 0.5, 0.9])
    only_need = build_search(meaning=need)  # no words: meaning is all the text relevance (0.5)
    assert only_need.semantic_bonus(cosines).tolist() == [0.0, 0.0, 0.5, 0.5]
    with_words = build_search(text="claims", meaning=need)  # half of it
    assert with_words.semantic_bonus(cosines).tolist() == [0.0, 0.0, 0.25, 0.25]
    assert build_search(text="claims").semantic_bonus(cosines).tolist() == [0.0] * 4
    # Between floor and full: rounded down to 4096ths, never above the exact share.
    between = np.array([0.2, 0.3, 0.35, 0.45])
    exact = 0.25 * (between - 0.1) / 0.4
    bonus = with_words.semantic_bonus(between)
    assert all(float(b * 4096).is_integer() and e - BOOST_STEP < b <= e for b, e in zip(bonus, exact))
    assert need.squared_norm == 25.0
    assert need.fingerprint() == hashlib.sha256(b"m1" + need.vector.tobytes()).hexdigest()[:16]
    assert Meaning(need.vector, model_id="m2").fingerprint() != need.fingerprint()


def test_whether_a_search_ranks_at_all():
    assert not build_search().scored
    assert build_search(text="claims").scored and build_search(criteria={"sectors": [SECTOR]}).scored
    assert build_search(meaning=Meaning(np.array([1], dtype=np.int8))).scored
    assert not build_search(text="the and of").scored


# --- cursors --------------------------------------------------------------------------------

@pytest.mark.parametrize("returned, after", [
    (1, (0.0, "M")), (9999, (1e6, "M" * 64)), (5, (2, "M1")),
])
def test_a_cursor_within_bounds_round_trips(returned, after):
    cursor = Cursor(returned, after)
    assert cursor.values() == {"n": returned, "s": after[0], "m": after[1]}
    assert Cursor.from_values(cursor.values()) == cursor


@pytest.mark.parametrize("returned, after, message", [
    (0, (1.0, "M"), "a search pages at most 10000 results deep"),
    (-1, (1.0, "M"), "a search pages at most 10000 results deep"),
    (10000, (1.0, "M"), "a search pages at most 10000 results deep"),
    (True, (1.0, "M"), "a search pages at most 10000 results deep"),
    (2.0, (1.0, "M"), "a search pages at most 10000 results deep"),
    (1, (-0.5, "M"), "holds no score a search gives"),
    (1, (1e6 + 1, "M"), "holds no score a search gives"),
    (1, (math.nan, "M"), "holds no score a search gives"),
    (1, (math.inf, "M"), "holds no score a search gives"),
    (1, (True, "M"), "holds no score a search gives"),
    (1, ("1", "M"), "holds no score a search gives"),
    (1, (1.0, ""), "holds no member id"),
    (1, (1.0, "M" * 65), "holds no member id"),
    (1, (1.0, 7), "holds no member id"),
])
def test_a_cursor_out_of_bounds_is_refused(returned, after, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        Cursor(returned, after)


def test_a_cursor_has_exactly_its_three_values():
    with pytest.raises(ValueError, match="^is not a search cursor$"):
        Cursor.from_values({"n": 1, "s": 1.0, "m": "M", "x": 1})
    with pytest.raises(ValueError, match="^is not a search cursor$"):
        Cursor.from_values({"n": 1, "s": 1.0})


def test_the_next_page_starts_after_what_was_shown_until_the_depth_limit():
    query = build_search(criteria={"sectors": [SECTOR]}, size=20)
    first = query.next_cursor(20, (3.0, "M20"))
    assert first == Cursor(20, (3.0, "M20"))
    later = query.continued(first)
    assert (later.cursor, later.fingerprint, later.criteria) == (first, query.fingerprint, query.criteria)
    assert later.next_cursor(20, (2.0, "M40")) == Cursor(40, (2.0, "M40"))
    deep = query.continued(Cursor(9980, (1.0, "M")))
    assert deep.next_cursor(19, (1.0, "N")) == Cursor(9999, (1.0, "N"))
    assert deep.next_cursor(20, (1.0, "N")) is None
    assert SearchQuery().cursor is None


# --- meaning -------------------------------------------------------------------------------------

def test_only_text_with_a_letter_or_digit_has_meaning():
    assert [meaning.has_meaning(t) for t in ("Claims", "7", "é", "", None, "🙂 !?", "__", " ")] == [
        True, True, True, False, False, False, False, False]


def test_a_profile_is_cut_into_its_headline_expertise_and_bio_sentences():
    assert meaning.passages(" Claims lead ", "I run claims. I coach!\nAsk me?  Yes", [EXPERTISE, "work_life_balance"]) == [
        "Claims lead", "Expertise: Career planning, Work/life balance", "I run claims.", "I coach!", "Ask me?", "Yes"]
    assert meaning.passages("", "", []) == []
    assert meaning.passages("Same", "Same. Same", []) == ["Same", "Same."]
    long = "w" * 450
    assert meaning.passages(long, "", []) == ["w" * 400]
    many = " ".join(f"Sentence {n}." for n in range(30))
    assert len(meaning.passages("Head", many, [])) == 16
    doc = {"headline": "Head", "bio": "Bio.", "expertise": [EXPERTISE]}
    assert meaning.doc_passages(doc) == ["Head", "Expertise: Career planning", "Bio."]
    assert meaning.doc_passages({}) == []


def test_vectors_are_attached_to_the_documents_that_have_passages():
    asked = []

    def vectors_of(texts):
        asked.append(list(texts))
        return {t: np.array([len(t), 1], dtype=np.int8) for t in texts}

    docs = meaning.attach_vectors([{"headline": "Ab", "bio": "Cde."}, {"headline": ""}], vectors_of)
    assert asked == [["Ab", "Cde."]]
    expected = meaning.profile_vector(np.stack([np.array([2, 1]), np.array([4, 1])]).astype(np.int8))
    assert docs[0]["vector"].tolist() == expected.tolist() and docs[1]["vector"] is None


def test_vectors_are_int8_scaled_to_127_and_compared_exactly():
    assert meaning.quantise(np.array([0.5, -1.0, 0.25])).tolist() == [[64, -127, 32]]
    assert meaning.quantise(np.array([[0.0, 0.0], [2.0, 1.0]])).tolist() == [[0, 0], [127, 64]]
    # Each row scaled by its own peak, to 127 exactly (0.9 of the peak is 114, not 115).
    assert meaning.quantise(np.array([[2.0, 1.0], [0.5, 0.25], [1.0, 0.9]])).tolist() == [[127, 64], [127, 64],
                                                                                           [127, 114]]
    assert meaning.quantise(np.array([1.0, -3.0])).dtype == np.int8
    assert meaning.unit_rows(np.array([[3, 4], [0, 0]], dtype=np.int8)).tolist() == [[0.6, 0.8], [0.0, 0.0]]
    assert meaning.squared_norms(np.array([[3, 4], [127, 127]], dtype=np.int8)).tolist() == [25.0, 32258.0]
    rows = np.array([[3, 4], [4, -3], [0, 0]], dtype=np.int8)
    assert meaning.cosines(rows, np.array([3, 4], dtype=np.int8)).tolist() == [1.0, 0.0, 0.0]
    assert meaning.cosines_from_dots(np.array([12, 5]), np.array([25.0, 0.0]), 9.0).tolist() == [0.8, 0.0]
    assert meaning.text_hash("abc") == hashlib.sha256(b"abc").digest()


def test_a_profile_vector_is_the_normalised_mean_of_its_passages():
    assert meaning.profile_vector(np.array([[3, 4], [-3, 4]], dtype=np.int8)).tolist() == [0, 127]
    assert meaning.profile_vector(np.array([[10, 0], [0, 1]], dtype=np.int8)).tolist() == [127, 127]
    assert meaning.profile_vector(np.array([[3, 4]], dtype=np.int8)).tolist() == [95, 127]  # one passage: itself
    empty = meaning.profile_vector(np.zeros((0, 3), dtype=np.int8))
    assert empty.tolist() == [0, 0, 0] and empty.dtype == np.int8
    assert meaning.profile_vector(np.zeros(0, dtype=np.int8)).tolist() == []


def test_similarity_counts_from_the_floor_and_is_full_from_0_5():
    assert meaning.relevance(np.array([-1.0, 0.1, 0.3, 0.5, 0.9])).tolist() == pytest.approx([0, 0, 0.5, 1, 1])
    assert float(meaning.relevance(0.2)) == pytest.approx(0.25)


def test_the_passage_closest_to_the_need_is_shown_when_it_is_close_enough():
    texts = ["far", "near", "nearest"]
    vectors = np.array([[0, 10], [6, 8], [10, 1]], dtype=np.int8)
    text, cosine = meaning.closest(texts, vectors, np.array([1, 0], dtype=np.int8))
    assert text == "nearest" and cosine == pytest.approx(10 / math.sqrt(101))
    assert meaning.closest([], np.zeros((0, 2), dtype=np.int8), np.array([1, 0], dtype=np.int8)) is None
    assert meaning.closest(["far"], np.array([[0, 10]], dtype=np.int8), np.array([1, 0], dtype=np.int8)) is None
    # Just above the floor (cosine 0.1005) is shown, just below it (0.0995) is not.
    edge = np.array([[1, 0]], dtype=np.int8)
    assert meaning.closest(["edge"], edge, np.array([10, 99], dtype=np.int8))[0] == "edge"
    assert meaning.closest(["edge"], edge, np.array([10, 100], dtype=np.int8)) is None
