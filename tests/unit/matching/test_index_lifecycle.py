"""The embedded index's lifecycle: rebuild behind an alias, catch-up after a swap, the commands."""

from __future__ import annotations

from typer.testing import CliRunner

from connect.cli import app
from services.matching.adapters.search_embedded import EmbeddedSearchIndex
from services.matching.domain.search import build_search

PROFILE = {"headline": "Claims lead", "expertise": ["claims"], "sectors": ["general_insurance"]}


def _names(container, **search) -> list[str]:
    page = container.service("matching").index.search(build_search(**search))
    return [hit.member_id for hit in page.hits]


def test_rebuild_swaps_alias_and_catches_up_changes_made_meanwhile(client, auth, container, make_container, deliver,
                                                                   tmp_path):
    for member_id in ("M1", "M2"):
        client.put("/v1/members/me/mentor-profile", json=PROFILE, headers=auth(member_id))
    deliver()
    serving_index = container.service("matching").index
    assert isinstance(serving_index, EmbeddedSearchIndex)
    old_version = serving_index._current().name

    # `connect reindex` runs in another process: another container on the same var/ folder.
    operator = make_container(var_dir=tmp_path / "var")
    operator_service = operator.service("matching")
    started_at = operator.clock.now()
    build = operator_service.index.begin_build()
    build.add([{**doc} for _mid, doc in _listed(operator_service) if doc is not None])
    # Meanwhile the server indexes a change into the version still live.
    client.put("/v1/members/me/mentor-profile/availability", json={"available": False}, headers=auth("M2"))
    client.put("/v1/members/me/mentor-profile", json=PROFILE, headers=auth("M3"))
    deliver()
    build.swap(started_at)

    # The server's next call opens the new version and re-applies what changed since the build began.
    assert _names(container, criteria={"expertise": "claims"}) == ["M1", "M3"]
    assert serving_index._current().name != old_version


def _listed(service):
    return service.listed_documents()


def test_reindex_and_seed_demo_commands(tmp_path, monkeypatch):
    monkeypatch.setenv("CONNECT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CONNECT_LOG_LEVEL", "WARNING")
    runner = CliRunner()
    seeded = runner.invoke(app, ["seed-demo", "--mentors", "30", "--mentees", "5"])
    assert seeded.exit_code == 0, seeded.output
    assert "created 35 members" in seeded.output and "30 listed mentors" in seeded.output
    again = runner.invoke(app, ["seed-demo", "--if-empty"])
    assert again.exit_code == 0 and "nothing seeded" in again.output
    rebuilt = runner.invoke(app, ["reindex"])
    assert rebuilt.exit_code == 0 and "30 listed mentors" in rebuilt.output
    index = EmbeddedSearchIndex(tmp_path / "var" / "search", "connect-mentors")
    assert index.count() == 30
    assert len(list((tmp_path / "var" / "search").glob("connect-mentors-v*"))) == 2  # live + previous
    index.close()


def test_embedded_ties_beyond_the_first_fetch_keep_member_id_order(tmp_path):
    """1,500 identical mentors tie on every score: paging must still walk them by member id."""
    from datetime import datetime, timezone

    from services.matching.domain.profiles import MentorProfile, index_document

    profile = MentorProfile(headline="Same", expertise=["claims"])
    ids = [f"T{n:05d}-{'x' * (n % 3)}" for n in range(1500)]  # some ids share their first 8 bytes
    index = EmbeddedSearchIndex(tmp_path / "search", "ties")
    build = index.begin_build()
    build.add(index_document(member_id, member_id, profile, 0) for member_id in reversed(ids))
    build.swap(datetime.now(timezone.utc))
    seen: list[str] = []
    cursor = None
    while True:
        page = index.search(build_search(criteria={"expertise": "claims"}, size=100, cursor=cursor))
        assert page.total == 1500
        seen += [hit.member_id for hit in page.hits]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == sorted(ids)
    index.close()
