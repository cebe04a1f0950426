"""Matching's profile rules as a member meets them: each controlled value checked against the
taxonomy with the field path of the wrong one, what the index stores for a mentor, how busy a
mentor counts as, and what two members are shown to share.

Example-based and fast on purpose: `make mutation` runs these after each change it makes to
`profiles.py`, `connections.py` and `taxonomy.py` (docs/testing.md)."""

from __future__ import annotations

import pytest

from schemas import taxonomy
from services.matching.domain.connections import connections, member_facts
from services.matching.domain.profiles import (InvalidProfile, Location, MenteeProfile, MentorProfile, index_document,
                                               load_level, normalise_tag)

MENTOR = MentorProfile(headline="Claims lead", bio="Twenty years in claims", expertise=["career_planning", "nope"],
                       sectors=["general_insurance"], career_stage="mid", years_experience=20,
                       qualifications=["acii"], languages=["en", "cy"], interaction_modes=["video"],
                       location=Location("gb", "london", "London"), employer="  Acme   INSURANCE ",
                       interests=["Sailing ", "sailing", " ", "Chess"])


def errors_of(profile) -> list[tuple[str, str]]:
    with pytest.raises(InvalidProfile) as invalid:
        profile.validate()
    return list(invalid.value.errors)


def test_a_mentor_profile_names_each_unknown_value_by_its_path():
    bad = MentorProfile(expertise=["career_planning", "juggling"], sectors=["space"], career_stage="astronaut",
                        qualifications=["phd"], languages=["xx"], interaction_modes=["telepathy"],
                        location=Location("ZZ", "atlantis"))
    assert errors_of(bad) == [
        ("expertise.1", "'juggling' is not a known expertise id (see GET /v1/taxonomy)"),
        ("sectors.0", "'space' is not a known sectors id (see GET /v1/taxonomy)"),
        ("career_stage", "'astronaut' is not a known career_stages id (see GET /v1/taxonomy)"),
        ("qualifications.0", "'phd' is not a known qualifications id (see GET /v1/taxonomy)"),
        ("languages.0", "'xx' is not a known languages id (see GET /v1/taxonomy)"),
        ("interaction_modes.0", "'telepathy' is not a known interaction_modes id (see GET /v1/taxonomy)"),
        ("location.region", "'atlantis' is not a known regions id (see GET /v1/taxonomy)"),
        ("location.country", "'ZZ' is not an ISO 3166-1 alpha-2 country code"),
    ]


def test_a_mentee_profile_checks_the_areas_it_seeks_against_expertise():
    bad = MenteeProfile(areas_sought=["leadership", "flying"], sectors=["general_insurance", "x"], career_stage="y",
                        languages=["en", "zz"], interaction_modes=["fax"], location=Location("GBR", "nowhere"))
    assert [path for path, _ in errors_of(bad)] == ["areas_sought.1", "sectors.1", "career_stage", "languages.1",
                                                    "interaction_modes.0", "location.region", "location.country"]
    assert errors_of(MenteeProfile(areas_sought=["flying"]))[0] == (
        "areas_sought.0", "'flying' is not a known expertise id (see GET /v1/taxonomy)")


def test_a_profile_of_known_values_or_none_is_valid():
    MentorProfile().validate()
    MenteeProfile().validate()
    MentorProfile(expertise=["career_planning"], career_stage="early", location=Location("fr", "london")).validate()
    MenteeProfile(areas_sought=["career_planning"], location=Location("", None)).validate()


def test_a_profile_round_trips_through_its_dict():
    assert MentorProfile.from_dict(MENTOR.to_dict()) == MENTOR
    assert MenteeProfile.from_dict({"goals": "Grow"}) == MenteeProfile(goals="Grow", location=Location())
    assert MenteeProfile.from_dict({"location": None}).location == Location()
    assert MENTOR.to_dict()["location"] == {"country": "gb", "region": "london", "city": "London"}


@pytest.mark.parametrize("pending, active, level", [
    (0, 0, 0), (1, 0, 1), (0, 1, 1), (1, 1, 2), (2, 1, 2), (3, 1, 3), (0, 6, 3), (7, 0, 4), (4, 3, 4),
])
def test_a_mentors_load_level_rises_with_what_they_carry(pending, active, level):
    assert load_level(pending, active) == level


def test_free_tags_compare_without_case_or_extra_spaces():
    assert normalise_tag("  Acme   INSURANCE\t") == "acme insurance"


def test_the_index_stores_a_mentor_flat_with_tags_normalised():
    doc = index_document("M1", "Ada Lovelace", MENTOR, 2)
    assert doc == {
        "member_id": "M1", "name": "Ada Lovelace", "headline": "Claims lead", "bio": "Twenty years in claims",
        "expertise": ["career_planning", "nope"], "expertise_text": taxonomy.expertise_text(["career_planning"]),
        "sectors": ["general_insurance"], "career_stage": ["mid"], "years_experience": 20,
        "qualifications": ["acii"], "languages": ["en", "cy"], "interaction_modes": ["video"],
        "region": ["london"], "country": ["GB"], "employer": ["acme insurance"], "interests": ["chess", "sailing"],
        "load_level": 2, "profile": MENTOR.to_dict(),
    }
    empty = index_document("M2", "Bob", MentorProfile(), 0)
    assert (empty["career_stage"], empty["years_experience"], empty["region"], empty["country"], empty["employer"],
            empty["interests"], empty["expertise_text"]) == ([], 0, [], [], [], [], "")
    assert index_document("M3", "Cy", MentorProfile(years_experience=0), 0)["years_experience"] == 0


def test_the_taxonomy_serves_ids_labels_and_the_synonyms_text_search_sees():
    assert "career_planning" in taxonomy.ids("expertise") and "london" in taxonomy.ids("regions")
    assert taxonomy.label("sectors", "general_insurance") == "General insurance"
    assert taxonomy.label("sectors", "unknown_id") == "unknown_id"
    assert taxonomy.expertise_text(["career_planning", "nope", "work_life_balance"]) == (
        "Career planning career development career progression promotion "
        "Work/life balance wellbeing flexible working stress")
    served = taxonomy.as_json()
    assert list(served) == ["expertise", "sectors", "career_stages", "interaction_modes", "qualifications",
                            "languages", "regions"]
    assert served["interaction_modes"][:3] == [{"id": "in_person", "label": "In person"},
                                               {"id": "video", "label": "Video call"}, {"id": "email", "label": "Email"}]


@pytest.mark.parametrize("code, valid", [("GB", True), ("gb", True), ("ZZ", False), ("GBR", False), ("G", False)])
def test_a_country_is_an_iso_alpha_2_code_in_any_case(code, valid):
    assert taxonomy.is_country(code) is valid


def test_a_members_facts_merge_their_profiles_without_repeats():
    mentee = {"sectors": ["general_insurance"], "location": {"region": "london"}, "interests": ["Chess "],
              "languages": ["en"], "employer": "Acme"}
    mentor = {"sectors": ["general_insurance", "life_pensions"], "location": None, "interests": ["chess", "Golf"],
              "languages": ["en", "cy"], "qualifications": ["acii"], "employer": " ACME "}
    assert member_facts([mentee, mentor]) == {
        "sectors": ["general_insurance", "life_pensions"], "employer": ["acme"], "region": ["london"],
        "interests": ["chess", "golf"], "qualifications": ["acii"], "languages": ["en", "cy"]}
    assert member_facts([]) == {name: [] for name in ("sectors", "employer", "region", "interests", "qualifications",
                                                      "languages")}
    assert member_facts([{"employer": None, "location": {"region": None}}])["employer"] == []


def test_two_members_share_what_both_have_in_the_first_members_order():
    mine = {"sectors": ["life_pensions", "general_insurance"], "employer": ["acme"], "region": ["london"],
            "interests": [], "languages": ["cy", "en"], "qualifications": ["acii"]}
    theirs = {"sectors": ["general_insurance", "life_pensions"], "employer": ["other"], "region": ["london"],
              "interests": ["chess"], "languages": ["en"], "qualifications": None}
    assert connections(mine, theirs) == [
        {"kind": "sectors", "values": ["life_pensions", "general_insurance"]},
        {"kind": "region", "values": ["london"]},
        {"kind": "languages", "values": ["en"]},
    ]
    assert connections({}, theirs) == []
