"""The search conformance suite's OpenSearch comes from the shared engine harness (environment
URL, Docker or the local launcher; skipped or failed per CONNECT_REQUIRE_ENGINES)."""

from tests.integration.conftest import opensearch_url  # noqa: F401
