"""Durable timers: `connect sweep --at` moves time; reminders 3/7/15 once each, expiry at 21."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

from typer.testing import CliRunner

from connect.cli import app as cli
from tests.unit.relationships.conftest import proposal_body
from tests.unit.relationships.conftest import relationship_events

T0 = "2026-12-01T09:00:00Z"


def _at(clock_start, **delta):
    return (clock_start + timedelta(**delta)).isoformat().replace("+00:00", "Z")


def _sweep(monkeypatch, container, when):
    monkeypatch.setenv("CONNECT_VAR_DIR", str(container.settings.var_dir))
    monkeypatch.setenv("CONNECT_RELATIONSHIPS_DATABASE_URL", container.services["relationships"].database.url)
    result = CliRunner().invoke(cli, ["sweep", "--at", when])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def test_sweep_at_sends_each_reminder_once_then_expires_and_reopen_restarts(
        client, auth, container, mentor, clock, monkeypatch):
    start = clock.now()
    mentor("M2")
    rel = client.post("/v1/proposals", json=proposal_body("M2"), headers=auth("M1")).json()
    assert rel["expires_at"] == _at(start, days=21)
    for when, expected in [(dict(days=2, hours=23), {}), (dict(days=3), {"3": 1}), (dict(days=3, hours=1), {}),
                           (dict(days=7), {"7": 1}), (dict(days=15, minutes=5), {"15": 1}),
                           (dict(days=20, hours=23), {}), (dict(days=21), {})]:
        report = _sweep(monkeypatch, container, _at(start, **when))
        assert report["reminders"] == expected, (when, report)
    assert report["expired"] == 1
    assert _sweep(monkeypatch, container, _at(start, days=30))["expired"] == 0
    events = relationship_events(container, rel["id"])
    assert [(e["type"], e["data"].get("day")) for e in events] == [
        ("ProposalSent", None), ("ProposalReminderDue", 3), ("ProposalReminderDue", 7),
        ("ProposalReminderDue", 15), ("ProposalExpired", None)]
    # Matching knows no mentors here (M2 exists only in our projection): no alternatives, expiry all the same.
    assert events[-1]["data"]["alternatives"] == [] and events[-1]["data"]["areas"] == ["raising_profile"]
    url = f"/v1/relationships/{rel['id']}"
    details = client.get(url, headers=auth("M1")).json()
    assert details["status"] == "expired" and details["actions"] == ["reopen"]
    assert details["status_history"][-1]["actor"] is None and details["status_history"][-1]["actor_role"] == "system"
    assert client.get(url, headers=auth("M2")).json()["actions"] == []

    # Reopening starts a new cycle: the reminders count from the reopen.
    clock.set(start + timedelta(days=22))
    assert client.post(url + "/reopen", headers=auth("M1")).json()["status"] == "pending"
    assert _sweep(monkeypatch, container, _at(start, days=24))["reminders"] == {}
    assert _sweep(monkeypatch, container, _at(start, days=25))["reminders"] == {"3": 1}
    reminders = client.get(url, headers=auth("M1")).json()["reminders"]
    assert [(r["cycle"], r["day"], r["sent"]) for r in reminders] == [(1, 3, True), (1, 7, True), (1, 15, True),
                                                                        (2, 3, True)]


def test_late_sweep_sends_only_the_latest_reminder_and_never_one_with_the_expiry(
        client, auth, container, mentor, clock, monkeypatch):
    start = clock.now()
    mentor("M2")
    mentor("M3")
    late = client.post("/v1/proposals", json=proposal_body("M2"), headers=auth("M1")).json()
    very_late = client.post("/v1/proposals", json=proposal_body("M3"), headers=auth("M1")).json()
    # Scheduler down: the first sweep in 16 days sees both; then nothing till day 40.
    container.service("relationships").send_due_reminders(start + timedelta(days=16))
    first = _sweep(monkeypatch, container, _at(start, days=16))
    assert first["reminders"] == {}  # already done by the run just before
    assert [(e["type"], e["data"].get("day")) for e in relationship_events(container, late["id"])][1:] == [
        ("ProposalReminderDue", 15)]
    assert _sweep(monkeypatch, container, _at(start, days=40))["expired"] == 2
    assert [e["type"] for e in relationship_events(container, very_late["id"])] == [
        "ProposalSent", "ProposalReminderDue", "ProposalExpired"]
    skipped = client.get(f"/v1/relationships/{late['id']}", headers=auth("M1")).json()["reminders"]
    assert [(r["day"], r["sent"]) for r in skipped] == [(3, False), (7, False), (15, True)]


def test_answered_proposals_get_no_timers_and_overlapping_sweeps_remind_once(client, auth, container, mentor, clock):
    start = clock.now()
    for n in range(6):
        mentor(f"T{n}")
    ids = [client.post("/v1/proposals", json=proposal_body(f"T{n}"), headers=auth("M1")).json()["id"]
           for n in range(6)]
    client.post(f"/v1/relationships/{ids[0]}/accept", headers=auth("T0"))
    client.post(f"/v1/relationships/{ids[1]}/withdraw", headers=auth("M1"))
    service = container.service("relationships")
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(service.send_due_reminders(
        start + timedelta(days=3), batch_size=1))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.reminders.get(3, 0) for r in reports) == 4
    sent = [e for e in relationship_events(container) if e["type"] == "ProposalReminderDue"]
    assert sorted(e["key"] for e in sent) == sorted(ids[2:])


def test_moving_time_with_sweep_at_mails_each_reminder_once_and_the_expiry(
        client, auth, container, mentor, deliver, clock, monkeypatch):
    """The whole embedded journey: sweep --at relays the events and the notifier writes the emails."""
    from email import message_from_bytes, policy

    start = clock.now()
    mentor("M2", name="Grace Hopper")
    client.post("/v1/proposals", json=proposal_body("M2"), headers=auth("M1", name="Ada Lovelace"))
    deliver()
    mail_dir = container.settings.mail_dir

    def mails():
        found = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(mail_dir.rglob("*.eml"))]
        return [(m["To"], m["Subject"]) for m in found]

    for day in (1, 3, 3, 5, 7, 7, 15, 16, 21, 22):
        _sweep(monkeypatch, container, _at(start, days=day, minutes=1))
    sent = mails()
    reminders = [subject for to, subject in sent if "m2@example.org" in to and "Reminder" in subject]
    to_mentee = [subject for to, subject in sent if "m1@example.org" in to]
    assert len(reminders) == 3, sent  # one at each of 3, 7 and 15 days
    assert len(to_mentee) == 1, sent  # the expiry, asking to choose another mentor


def test_an_accepted_relationship_is_told_of_its_planned_end_then_completes_there(
        client, auth, container, mentor, deliver, clock, monkeypatch):
    """Up to a year (the FAQ): both parties hear 14 days before the planned end; at the end the
    sweep completes it (CPD record included) and both hear they may stay in touch."""
    from email import message_from_bytes, policy

    start = clock.now()
    mentor("M2", name="Grace Hopper")
    rel = client.post("/v1/proposals", json=proposal_body("M2", duration_months=1),
                      headers=auth("M1", name="Ada Lovelace")).json()
    url = f"/v1/relationships/{rel['id']}"
    assert client.post(url + "/accept", headers=auth("M2", name="Grace Hopper")).status_code == 200
    end = start + timedelta(days=31)  # one month from 1 December
    assert client.get(url, headers=auth("M1")).json()["planned_end"] == _at(end)

    assert _sweep(monkeypatch, container, _at(end, days=-14, minutes=-1))["end_notices"] == 0
    assert _sweep(monkeypatch, container, _at(end, days=-14))["end_notices"] == 1
    assert _sweep(monkeypatch, container, _at(end, days=-2))["end_notices"] == 0  # once only
    assert client.get(url, headers=auth("M1")).json()["status"] == "accepted"
    report = _sweep(monkeypatch, container, _at(end))
    assert (report["completed"], report["end_notices"]) == (1, 0)
    assert _sweep(monkeypatch, container, _at(end, days=1))["completed"] == 0

    details = client.get(url, headers=auth("M1")).json()
    assert details["status"] == "completed" and details["actions"] == []
    assert details["status_history"][-1]["actor"] is None and details["status_history"][-1]["actor_role"] == "system"
    events = relationship_events(container, rel["id"])
    assert [e["type"] for e in events][-2:] == ["RelationshipEndingSoon", "RelationshipCompleted"]
    assert events[-1]["data"]["planned_end_reached"] is True
    cpd = client.get("/v1/members/me/cpd", headers=auth("M2")).json()
    assert [(a["activity"], a["relationship_id"], a["status"]) for a in cpd["activities"]] == [
        ("relationship", rel["id"], "completed")]

    found = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in container.settings.mail_dir.rglob("*.eml")]
    for address in ("m1@example.org", "m2@example.org"):
        mine = [m for m in found if address in str(m["To"])]
        ending = [m for m in mine if "ends on" in str(m["Subject"])]
        done = [m for m in mine if "is complete" in str(m["Subject"])]
        assert len(ending) == 1 and len(done) == 1, [str(m["Subject"]) for m in mine]
        assert "in 14 days" in ending[0].get_body(("plain",)).get_content()
        assert "free to remain in contact" in done[0].get_body(("plain",)).get_content()


def test_either_party_may_complete_early_and_a_late_sweep_completes_without_a_stale_notice(
        client, auth, container, mentor, clock, monkeypatch):
    start = clock.now()
    mentor("M2")
    mentor("M3")
    early = client.post("/v1/proposals", json=proposal_body("M2", duration_months=12), headers=auth("M1")).json()
    late = client.post("/v1/proposals", json=proposal_body("M3", duration_months=1), headers=auth("M1")).json()
    for rel, mentor_id in ((early, "M2"), (late, "M3")):
        assert client.post(f"/v1/relationships/{rel['id']}/accept", headers=auth(mentor_id)).status_code == 200
    # The mentee completes a year-long relationship after a month; the timers then leave it alone.
    assert "complete" in client.get(f"/v1/relationships/{early['id']}", headers=auth("M2")).json()["actions"]
    clock.set(start + timedelta(days=30))
    done = client.post(f"/v1/relationships/{early['id']}/complete", headers=auth("M1"))
    assert done.status_code == 200 and done.json()["status"] == "completed"
    # A sweep that first runs after the planned end completes at once, with no "ends in 14 days".
    report = _sweep(monkeypatch, container, _at(start, days=400))
    assert (report["completed"], report["end_notices"]) == (1, 0)
    assert [e["type"] for e in relationship_events(container, late["id"])][-1] == "RelationshipCompleted"
    assert not [e for e in relationship_events(container) if e["type"] == "RelationshipEndingSoon"]
