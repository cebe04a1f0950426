"""The embedded index stores each mentor once, without the text the profile repeats;
reading it back must give exactly the document the index was given (results are built
from it: matched, connections, the mentor card)."""

import json
import random

from faker import Faker

from services.matching.adapters.search_embedded import stored_document, to_document
from services.matching.demo import fake_mentor_profile
from services.matching.domain.profiles import index_document


def _documents(count: int) -> list[dict]:
    rng = random.Random(5)
    faker = Faker("en_GB")
    faker.seed_instance(5)
    return [index_document(f"S{n:04d}", faker.name(), fake_mentor_profile(rng, faker), n % 5) for n in range(count)]


def test_a_stored_document_reads_back_as_the_indexed_document() -> None:
    for doc in _documents(60):
        assert stored_document(to_document(doc).get_first("source")) == doc


def test_entries_written_in_the_earlier_stored_shape_still_read_back() -> None:
    # Indexes built before the keyword fields were stored held only these four keys.
    for doc in _documents(20):
        earlier = {"member_id": doc["member_id"], "name": doc["name"], "load_level": doc["load_level"],
                   "profile": doc["profile"]}
        assert stored_document(json.dumps(earlier).encode()) == doc
