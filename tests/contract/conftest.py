"""The contract suite's Kafka comes from the shared engine harness (environment URL, Docker or the
local launcher; skipped or failed per CONNECT_REQUIRE_ENGINES).  Fixtures of tests/integration/conftest.py
do not reach this folder, so the one needed is re-exported here; in a full run this may start a second
broker for this folder."""

from tests.integration.conftest import kafka_bootstrap  # noqa: F401
