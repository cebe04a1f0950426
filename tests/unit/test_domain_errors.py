"""The one mapping from domain errors to problem documents (`connect.problems.problem_for`):
each family's status and title, the refusal's own type, its facts as extension members, and
the headers some families carry."""

from __future__ import annotations

import pytest

from connect.errors import (Conflict, DomainError, Forbidden, Invalid, NotFound, PreconditionFailed,
                            PreconditionRequired, Unavailable)
from connect.problems import problem_for


class Taken(Conflict):
    code = "taken"


@pytest.mark.parametrize("error, status, type_, title", [
    (NotFound("No such thing."), 404, "not-found", "Not found"),
    (Forbidden("Not you."), 403, "forbidden", "Forbidden"),
    (Conflict("Not now."), 409, "conflict", "Conflict"),
    (Taken("Taken."), 409, "taken", "Conflict"),
    (DomainError("Refused."), 409, "conflict", "Conflict"),
    (PreconditionRequired("Send If-Match."), 428, "precondition-required", "Precondition required"),
    (PreconditionFailed("Stale."), 412, "stale-etag", "Precondition failed"),
    (Unavailable("Later."), 503, "unavailable", "Service unavailable"),
])
def test_each_family_has_its_status_title_and_type(error, status, type_, title):
    problem = problem_for(error)
    assert (problem.status, problem.type, problem.title, problem.detail) == (status, type_, title, error.detail)
    assert problem.extensions == {} and problem.headers is None


def test_facts_become_extension_members_and_a_code_may_be_given_per_refusal():
    problem = problem_for(Forbidden("Services only.", code="service-only", who="M1"))
    assert (problem.type, problem.extensions) == ("service-only", {"who": "M1"})


def test_a_stale_version_names_the_current_one_in_a_header_and_a_member():
    problem = problem_for(PreconditionFailed("Reload.", etag='"r1.3"'))
    assert problem.headers == {"ETag": '"r1.3"'} and problem.extensions == {"etag": '"r1.3"'}


def test_unavailable_says_when_to_retry():
    assert problem_for(Unavailable("Later.", retry_after_seconds=5)).headers == {"Retry-After": "5"}


def test_invalid_input_lists_field_paths_in_order():
    problem = problem_for(Invalid({"b": "too long", "a.0": "unknown"}))
    assert (problem.status, problem.type, problem.title) == (422, "validation", "Validation failed")
    assert problem.detail == "b: too long; a.0: unknown"
    assert problem.extensions == {"errors": [{"path": "b", "message": "too long", "type": "value_error"},
                                             {"path": "a.0", "message": "unknown", "type": "value_error"}]}
    assert problem_for(Invalid([("x", "twice"), ("x", "again")])).extensions["errors"][1]["message"] == "again"
