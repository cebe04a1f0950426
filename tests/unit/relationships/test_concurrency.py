"""Races, on both databases: the relationship's row lock (PostgreSQL) or the write lock taken at
BEGIN (SQLite) decides accept-vs-withdraw, the partial unique index decides
proposal-vs-proposal, and concurrent sweeps share the work (SKIP LOCKED on PostgreSQL) and
remind once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import func, select

from services.relationships.adapters import orm
from tests.unit.relationships.conftest import proposal_body
from tests.relationships_suite import row_count
from tests.unit.relationships.conftest import relationship_events


def test_concurrent_accept_and_withdraw_exactly_one_wins(client, auth, container, mentor):
    pairs = 12
    for n in range(pairs):
        mentor(f"T{n}")
    mentee = auth("M1")
    ids = [client.post("/v1/proposals", json=proposal_body(f"T{n}"), headers=mentee).json()["id"]
           for n in range(pairs)]
    barrier = threading.Barrier(2 * pairs)
    guarded = {"expected_status": "pending"}

    def move(job):
        n, action = job
        headers = auth(f"T{n}") if action == "accept" else mentee
        barrier.wait()
        return n, action, client.post(f"/v1/relationships/{ids[n]}/{action}", json=guarded, headers=headers)

    jobs = [(n, action) for n in range(pairs) for action in ("accept", "withdraw")]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(move, jobs))
    events = relationship_events(container)
    for n, rel_id in enumerate(ids):
        answers = {action: response for m, action, response in results if m == n}
        codes = sorted(r.status_code for r in answers.values())
        assert codes == [200, 409], {a: r.text for a, r in answers.items()}
        winner = next(a for a, r in answers.items() if r.status_code == 200)
        loser = answers["withdraw" if winner == "accept" else "accept"].json()
        assert loser["current_status"] == ("accepted" if winner == "accept" else "withdrawn")
        types = [e["type"] for e in events if e["key"] == rel_id]
        assert types == ["ProposalSent", "ProposalAccepted" if winner == "accept" else "ProposalWithdrawn"]
        history = client.get(f"/v1/relationships/{rel_id}", headers=mentee).json()["status_history"]
        assert len(history) == 2


def test_concurrent_proposals_for_one_pair_make_one_relationship(client, auth, container, mentor):
    mentor("M2")
    mentee = auth("M1")
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda n: client.post("/v1/proposals", json=proposal_body("M2", goals=f"g{n}"),
                                                      headers=mentee), range(16)))
    created = [a.json()["id"] for a in answers if a.status_code == 201]
    assert len(created) == 1
    for answer in answers:
        if answer.status_code != 201:
            assert answer.status_code == 409, answer.text
            assert answer.json()["relationship_id"] == created[0]
    assert row_count(container, orm.relationships) == 1
    # The refused inserts rolled back with their events: one ProposalSent, nothing half-written.
    assert [e["key"] for e in relationship_events(container) if e["type"] == "ProposalSent"] == created
    assert row_count(container, orm.proposal_versions) == 1 and row_count(container, orm.status_history) == 1


def test_concurrent_sweeps_share_the_work_and_remind_once(client, auth, container, mentor, clock):
    start = clock.now()
    service = container.service("relationships")
    mentor("M2")
    # Many proposals quickly, through the service (the API path is covered elsewhere).
    from connect.auth import Member
    from services.relationships.proposals.domain import ProposalContent

    content = ProposalContent("hello", ("career_planning",), "", ("video",), 6)
    for n in range(120):
        service.proposals.propose(Member(id=f"E{n}", name=f"E{n}", email=""), "M2", content)
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(
        service.send_due_reminders(start + timedelta(days=7, hours=1), batch_size=10))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.reminders.get(7, 0) for r in reports) == 120
    assert sum(r.skipped_reminders for r in reports) == 120
    database = container.services["relationships"].database
    with database.session() as session:
        sent = session.execute(select(func.count()).select_from(orm.reminders).where(orm.reminders.c.sent)).scalar()
    assert sent == 120
    reminders = [e for e in relationship_events(container) if e["type"] == "ProposalReminderDue"]
    assert len(reminders) == 120 and len({e["key"] for e in reminders}) == 120
