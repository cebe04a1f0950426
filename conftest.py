# The real-engine fixtures are a plugin loaded once for the whole run, so every test folder
# shares the same PostgreSQL, Redis, Kafka and OpenSearch instead of starting its own.
pytest_plugins = ["tests.engines"]
