"""Workspace races and erasure, on both databases: the relationship's row lock (PostgreSQL) or
the write lock taken at BEGIN (SQLite) serialises concurrent saves, so stale ETags lose and a
burst of messages asks for exactly one email; an approved erasure leaves no canary in any table."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select, text

from services.relationships.adapters import orm
from tests.relationships_suite import published, rows_holding
from tests.waiting import eventually

CANARY = "CANARY-pg-91c2"


def test_concurrent_amends_with_one_etag_exactly_one_wins(client, pair):
    tool = client.post(pair.url + "/tools/goals", json={"goal": "Speak"}, headers=pair.mentee).json()
    url = f"{pair.url}/tools/goals/{tool['id']}"
    writers = 16
    barrier = threading.Barrier(writers)

    def amend(n):
        headers = {**(pair.mentee if n % 2 else pair.mentor), "If-Match": tool["etag"]}
        barrier.wait()
        return client.put(url, json={"goal": "Speak", "tasks": [f"task {n}"]}, headers=headers)

    with ThreadPoolExecutor(max_workers=writers) as pool:
        codes = sorted(r.status_code for r in pool.map(amend, range(writers)))
    assert codes == [200] + [412] * (writers - 1)
    assert [v["version"] for v in client.get(url, headers=pair.mentee).json()["versions"]] == [1, 2]


def test_a_concurrent_burst_of_messages_asks_for_one_email(client, pair, container):
    senders = 12
    barrier = threading.Barrier(senders)

    def send(n):
        barrier.wait()
        return client.post(pair.url + "/messages", json={"body": f"message {n}"}, headers=pair.mentee)

    with ThreadPoolExecutor(max_workers=senders) as pool:
        assert {r.status_code for r in pool.map(send, range(senders))} == {201}
    posted = published(container, types=("MessagePosted",))
    assert len(posted) == senders and sum(e["data"]["notify"] for e in posted) == 1
    database = container.services["relationships"].database
    with database.session() as session:
        emailed = session.execute(select(orm.messages.c.emailed)).scalars().all()
    assert sorted(emailed) == [False] * (senders - 1) + [True]


def test_erasure_leaves_no_canary_in_any_table(client, propose, auth, container, clock):
    ada = auth("M1", name=f"Ada {CANARY}", email=f"{CANARY.lower()}@example.org")
    pair = propose("M1", "M2")
    client.post(pair.url + "/messages", json={"body": f"secret {CANARY}"}, headers=ada)
    client.post(pair.url + "/tools/swot", json={"strengths": [CANARY]}, headers=ada)
    client.post(pair.url + "/meetings", headers=ada, json={
        "starts_at": (clock.now() + timedelta(days=1)).isoformat(), "duration_minutes": 30, "mode": "in_person",
        "agenda": CANARY, "location_or_link": CANARY})
    # Ada deletes her account first, then calls the customer service team, who file the request for her.
    assert client.delete("/v1/members/me", headers=ada).status_code == 200
    support = auth("S1", roles=["support"])
    asked = client.post("/v1/support-requests", headers=support,
                        json={"kind": "erasure", "message": f"Phoned in by {CANARY}", "on_behalf_of": "M1"})
    assert asked.status_code == 201, asked.text
    container.services["relationships"].relay.drain()
    resolved = client.post(f"/v1/support-requests/{asked.json()['id']}/resolve", headers=support,
                           json={"outcome": "approved"})
    assert resolved.status_code == 200, resolved.text

    assert rows_holding(container, CANARY) == {}
    assert [e["key"] for e in published(container, types=("MemberErased",))] == ["M1"]


def test_concurrent_deletions_of_one_account_delete_once(client, propose, container):
    pair = propose("M1", "M2")
    propose("M1", "M3", accept=False)
    barrier = threading.Barrier(6)

    def delete(_):
        barrier.wait()
        return client.delete("/v1/members/me", headers=pair.mentee)

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = sorted(r.status_code for r in pool.map(delete, range(6)))
    # One deletes; the others find it done (409) or are already refused as deleted (403).
    assert codes[0] == 200 and all(code in (403, 409) for code in codes[1:]), codes
    assert len(published(container, types=("AccountDeleted",))) == 1
    assert len(published(container, types=("RelationshipWithdrawn", "ProposalWithdrawn"))) == 2



def _while_a_resolution_is_in_progress(client, container, clock, request_id, late_request):
    """Resolves `request_id` in a transaction held open until `late_request` (sent from another
    thread) waits for it (PostgreSQL: a backend waiting on a lock) or has answered; then commits.
    SQLite's write lock, taken at BEGIN, holds every other writer until the commit."""
    relationships = container.service("relationships")
    database = relationships.database

    def waiting_on_a_lock():
        with database.session() as session:
            return session.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                        "AND datname = current_database()")).scalar() > 0

    with ThreadPoolExecutor(max_workers=1) as pool:
        with relationships.uow() as uow:
            uow.accounts.support_request(request_id, for_update=True)
            uow.accounts.resolve_support_request(request_id, "done", "first", "S2", clock.now())
            late = pool.submit(late_request)
            if database.is_postgres:
                eventually(lambda: late.done() or waiting_on_a_lock(), 60,
                           "the late request to wait for the lock or answer", every=0.02)
            uow.commit()
        return late.result(timeout=60)


def _contact_partner_request(client, pair):
    made = client.post("/v1/support-requests", headers=pair.mentee, json={
        "kind": "contact_partner", "relationship_id": pair.id, "message": "Grace is silent"})
    assert made.status_code == 201, made.text
    return made.json()["id"]


def test_a_resolution_racing_another_is_refused_not_written_over_it(client, pair, auth, container, clock):
    support = auth("S1", roles=["support"])
    request_id = _contact_partner_request(client, pair)
    url = f"/v1/support-requests/{request_id}"
    late = _while_a_resolution_is_in_progress(client, container, clock, request_id, lambda: client.post(
        url + "/resolve", headers=support, json={"outcome": "declined", "note": "second"}))
    assert late.status_code == 409, late.text
    stored = client.get(url, headers=support).json()
    assert (stored["outcome"], stored["resolution_note"], stored["resolved_by"]) == ("done", "first", "S2")
    assert published(container, types=("SupportRequestResolved",)) == []  # only the service records it


def test_a_partner_message_racing_a_resolution_is_refused(client, pair, auth, container, clock):
    support = auth("S1", roles=["support"])
    request_id = _contact_partner_request(client, pair)
    url = f"/v1/support-requests/{request_id}"
    late = _while_a_resolution_is_in_progress(client, container, clock, request_id, lambda: client.post(
        url + "/partner-messages", headers=support, json={"body": "Please write to Ada"}))
    assert late.status_code == 409, late.text
    assert client.get(url, headers=support).json()["partner_messages"] == []
    assert published(container, types=("SupportMessageSentToPartner",)) == []
