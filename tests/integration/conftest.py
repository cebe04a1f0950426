"""Everything under this folder needs real engines; the fixtures come from tests/engines.py."""
