"""The lifecycle, rules, idempotency and timer tests again, against real PostgreSQL."""

from tests.unit.relationships.test_api import (test_listing_filters_and_cursor,  # noqa: F401
                                               test_proposal_lifecycle_views_and_events, test_proposal_rules,
                                               test_withdraw_reopen_and_expected_status)
from tests.unit.relationships.test_idempotency import (  # noqa: F401
    test_changed_body_is_422_and_errors_replay_too, test_fifty_concurrent_identical_posts_create_one_proposal)
from tests.unit.relationships.test_timers import (  # noqa: F401
    test_answered_proposals_get_no_timers_and_overlapping_sweeps_remind_once)


def test_the_database_under_test_is_postgres(container):
    assert container.services["relationships"].database.is_postgres
