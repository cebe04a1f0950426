"""The small items of issue 12 (finding 7), in-process: strict types, ISO 3166-1 countries, and
OPTIONS / 405 answers that name every method a path allows."""

from __future__ import annotations

import pytest

from tests.security.conftest import assert_problem, error_paths


@pytest.mark.parametrize("page, path", [
    ({"size": True}, "page.size"),
    ({"size": "5"}, "page.size"),
    ({"size": 2.5}, "page.size"),
    ({"cursor": 5}, "page.cursor"),
])
def test_search_page_takes_no_coerced_values(client, auth, page, path):
    response = client.post("/v1/mentors/search", json={"page": page}, headers=auth("M1"))
    assert_problem(response, 422)
    assert error_paths(response) == [path]


def test_whole_numbers_in_bodies_are_not_booleans(client, auth):
    response = client.post("/v1/proposals", headers=auth("M1"),
                           json={"mentor_id": "M2", "message": "Hi", "duration_months": True})
    assert_problem(response, 422)
    assert error_paths(response) == ["duration_months"]


@pytest.mark.parametrize("country, ok", [("GB", True), ("gb", True), ("FR", True), ("ZZ", False), ("XK", False),
                                         ("UK", False), ("EU", False)])
def test_country_codes_are_iso_3166_1(client, auth, country, ok):
    body = {"headline": "Claims lead", "expertise": ["claims"], "location": {"country": country}}
    response = client.put("/v1/members/me/mentor-profile", json=body, headers=auth("M1"))
    if ok:
        assert response.status_code == 200, response.text
        assert response.json()["location"]["country"] == country.upper()
    else:
        assert_problem(response, 422)
        assert error_paths(response) == ["location.country"]
    mentee = client.put("/v1/members/me/mentee-profile", json={"location": {"country": country}}, headers=auth("M1"))
    assert mentee.status_code == (200 if ok else 422), mentee.text
    search = client.post("/v1/mentors/search", json={"criteria": {"country": country}}, headers=auth("M1"))
    assert search.status_code == (200 if ok else 422), search.text
    if not ok:
        assert error_paths(search) == ["criteria.country"]


@pytest.mark.parametrize("path, methods", [
    ("/v1/relationships/R1/messages", {"GET", "POST"}),
    ("/v1/members/me", {"GET", "DELETE"}),
    ("/v1/members/me/mentor-profile", {"GET", "PUT"}),
    ("/v1/relationships/R1/tools/swot/T1", {"GET", "PUT"}),
    ("/v1/relationships/R1/meetings/X", {"GET", "PATCH", "DELETE"}),
    ("/v1/mentors/search", {"POST", "GET"}),  # GET: /v1/mentors/{member_id} with the id "search"
])
def test_options_and_405_name_every_allowed_method(client, auth, path, methods):
    options = client.options(path, headers=auth("M1"))
    assert options.status_code == 204, options.text
    assert set(options.headers["allow"].split(", ")) == methods | {"OPTIONS"}
    wrong = next(m for m in ("PATCH", "POST", "PUT", "DELETE", "GET") if m not in methods)
    refused = client.request(wrong, path, headers=auth("M1"))
    assert_problem(refused, 405)
    assert set(refused.headers["allow"].split(", ")) == methods | {"OPTIONS"}


def test_options_on_an_unknown_path_is_404(client, auth):
    assert_problem(client.options("/v1/no-such-thing", headers=auth("M1")), 404)
