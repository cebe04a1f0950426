"""Erasure across the whole embedded shape: canary values planted through every service's API
(profiles, proposal, messages, tools, meetings, emails) must be gone from every store after an
approved erasure request has been delivered."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import tantivy

from services.matching.adapters.search_embedded import KEYWORD_FIELDS, TEXT_FIELDS, version_schema
from tests.relationships_suite import rows_holding

CANARY = "canary-e5d1"
# What the search index's analyser leaves of the canary in its text fields ("canary" is stemmed).
CANARY_TOKEN = "e5d1"


def _survivors(var_dir: Path, pattern: str = "*") -> dict[str, int]:
    """Where the canary is still readable: rows of every SQLite table, and the raw bytes of every
    file (write-ahead logs and free pages included).  `mail/` is skipped: in the embedded shape it
    stands for delivery, and an email delivered is in the member's mailbox, not in a store of ours."""
    found: dict[str, int] = {}
    for path in var_dir.rglob(pattern):
        if not path.is_file() or path.relative_to(var_dir).parts[0] == "mail":
            continue
        raw = path.read_bytes()
        if path.suffix in (".db", ".sqlite") or raw.startswith(b"SQLite format 3"):
            try:
                conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
                tables = [r[0] for r in conn.execute("select name from sqlite_master where type='table'")]
                for table in tables:
                    for row in conn.execute(f'select * from "{table}"'):
                        if any(CANARY in (v.decode(errors="ignore") if isinstance(v, bytes) else str(v)).lower()
                               for v in row):
                            key = f"{path.relative_to(var_dir)}:{table}"
                            found[key] = found.get(key, 0) + 1
                conn.close()
                continue
            except sqlite3.DatabaseError:
                pass
        if CANARY.encode() in raw.lower():
            key = str(path.relative_to(var_dir))
            found[key] = found.get(key, 0) + 1
    return found


def index_terms(var_dir: Path) -> list[str]:
    """Canary terms in every version of the embedded search index.  Its stored documents are
    compressed (a byte scan cannot see them), but a term stays in the dictionary while any
    document holding it, deleted or not, is left in a segment: no term, no bytes."""
    found = []
    for meta in (var_dir / "search").rglob("meta.json"):
        searcher = tantivy.Index(version_schema(meta.parent), path=str(meta.parent), reuse=True).searcher()
        for field in KEYWORD_FIELDS + TEXT_FIELDS:
            found += [f"{meta.parent.name}:{field}:{term}" for term, _count in searcher.terms_with_prefix(field, "")
                      if CANARY_TOKEN in str(term).lower()]
    return found


def _plant(client, propose, auth, deliver, clock) -> dict[str, str]:
    ada = auth("M1", name=f"Ada {CANARY}", email=f"{CANARY}@example.org")
    pair = propose("M1", "M2")
    client.put("/v1/members/me/mentee-profile", headers=ada, json={
        "goals": f"Goals {CANARY}", "areas_sought": ["career_planning"], "career_stage": "early",
        "sectors": ["general_insurance"], "languages": ["en"], "location": {"country": "GB", "region": "london"}})
    # Ada mentors too: her profile texts reach matching's search index.
    assert client.put("/v1/members/me/mentor-profile", headers=ada, json={
        "headline": f"Headline {CANARY}", "bio": f"Bio {CANARY}", "expertise": ["underwriting"],
        "sectors": ["general_insurance"], "career_stage": "senior", "years_experience": 20,
        "qualifications": ["acii"], "languages": ["en"], "interaction_modes": ["video"],
        "location": {"country": "GB", "region": "london"}, "employer": f"Employer {CANARY}",
        "interests": [CANARY]}).status_code == 200
    client.post(pair.url + "/messages", json={"body": f"secret {CANARY}"}, headers=ada)
    client.post(pair.url + "/messages", json={"body": "Hello Ada"}, headers=pair.mentor)
    client.post(pair.url + "/tools/swot", json={"strengths": [CANARY]}, headers=ada)
    client.post(pair.url + "/meetings", headers=ada, json={
        "starts_at": (clock.now() + timedelta(days=1)).isoformat(), "duration_minutes": 30, "mode": "in_person",
        "agenda": CANARY, "location_or_link": CANARY})
    deliver()
    return ada


def erase(client, ada, auth, deliver) -> None:
    asked = client.post("/v1/support-requests", headers=ada, json={"kind": "erasure", "message": CANARY})
    support = auth("S1", roles=["support"])
    assert client.post(f"/v1/support-requests/{asked.json()['id']}/resolve", headers=support,
                       json={"outcome": "approved"}).status_code == 200
    deliver()


def test_no_canary_survives_in_the_relationships_database(client, propose, auth, container, deliver, clock):
    """Its rows on either database; on SQLite also its file's free pages and write-ahead log (on
    PostgreSQL, dead tuples go with vacuum, outside what a test can see: docs/workspace.md)."""
    var_dir = container.settings.var_dir
    ada = _plant(client, propose, auth, deliver, clock)
    assert rows_holding(container, CANARY), "the canary was never planted"
    sqlite = container.services["relationships"].database.is_sqlite
    assert bool(_survivors(var_dir, "relationships.db*")) == sqlite
    erase(client, ada, auth, deliver)
    assert rows_holding(container, CANARY) == {}
    assert _survivors(var_dir, "relationships.db*") == {}


def test_no_canary_survives_anywhere(client, propose, auth, container, deliver, clock):
    var_dir = container.settings.var_dir
    ada = _plant(client, propose, auth, deliver, clock)
    assert index_terms(var_dir), "the canary never reached the search index"
    erase(client, ada, auth, deliver)
    # Every file under var/ (mail/ aside, see `_survivors`), and the search index's terms.
    assert _survivors(var_dir) == {}
    assert index_terms(var_dir) == []
