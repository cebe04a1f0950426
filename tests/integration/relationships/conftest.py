"""The relationships tests that need other engines too (Redis, a Celery worker): on both
relationships databases, like the rest of the suite (tests/relationships_suite.py)."""

from tests.relationships_suite import container, relationships_database  # noqa: F401 - fixtures
from tests.unit.relationships.conftest import mentor, set_availability  # noqa: F401 - fixtures reused as-is
