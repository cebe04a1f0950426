"""The relationships service's tables (prefix `relationships_`)."""

from connect.db import service_metadata
from connect.outbox import outbox_table

metadata = service_metadata()

outbox = outbox_table(metadata, "relationships")
