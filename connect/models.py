"""The base of every request and response body of the API.

A body has exactly its declared fields: an unknown one is refused (422, with its path) on the
way in, and the document says no other comes out (`additionalProperties: false`), which the
suite's response check holds the server to.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")
