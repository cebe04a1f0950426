"""The shared contract: event envelopes, event payloads and shared values.

The pydantic models here are the source of truth; `schemas/generated/` holds
the JSON Schema and AsyncAPI files generated from them (`connect schemas
generate`), and a test fails when the committed files drift.
"""
