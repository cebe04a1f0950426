"""The issue's 'done when': from an accepted proposal through the first conversation, tools,
meetings and messages to completion, each email is sent once, even when events arrive twice."""

from __future__ import annotations

import email
from datetime import timedelta
from email.policy import default

from connect.events import ConsumerLoop


def _mail_to(container, address):
    folder = container.settings.mail_dir
    messages = [email.message_from_bytes(path.read_bytes(), policy=default) for path in folder.glob("*.eml")]
    return [m for m in messages if address in str(m["To"])]


def _calendars(messages):
    return [str(part.get_content()) for m in messages for part in m.walk()
            if part.get_content_type() == "text/calendar"]


def test_journey_sends_each_email_once(client, pair, container, deliver, clock):
    deliver()  # the proposal's email to Grace and the acceptance's to Ada
    grace_before, ada_before = len(_mail_to(container, "m2@example.org")), len(_mail_to(container, "m1@example.org"))
    assert (grace_before, ada_before) == (1, 1)

    assert client.get(pair.url + "/first-conversation", headers=pair.mentee).status_code == 200
    client.put(pair.url + "/agreement", headers=pair.mentee, json={"meeting_frequency": "Monthly",
                                                                   "arranges_meetings": "mentee"})
    client.post(pair.url + "/tools/swot", headers=pair.mentee, json={"strengths": ["Writing"]})
    meeting = client.post(pair.url + "/meetings", headers=pair.mentee, json={
        "starts_at": (clock.now() + timedelta(days=7)).isoformat(), "duration_minutes": 60, "mode": "video",
        "location_or_link": "https://meet.example.org/x", "time_zone": "Europe/London"}).json()
    client.patch(f"{pair.url}/meetings/{meeting['id']}", headers=pair.mentor, json={"duration_minutes": 45})
    for text in ("Looking forward to it", "I have added a SWOT", "See you next week"):
        client.post(pair.url + "/messages", headers=pair.mentee, json={"body": text})
    deliver()

    # Grace: the invitation (.ics), her own change and one email for the burst of three messages;
    # tool saves send none.
    to_grace = _mail_to(container, "m2@example.org")
    assert len(to_grace) == grace_before + 3
    assert len(_calendars(to_grace)) == 2
    # Ada: her invitation and Grace's change, with the same calendar UID and a higher SEQUENCE.
    to_ada = _mail_to(container, "m1@example.org")
    assert len(to_ada) == ada_before + 2
    invite, change = sorted(_calendars(to_ada), key=lambda c: "SEQUENCE:1" in c)
    assert f"meeting-{meeting['id']}@connect" in change and "SEQUENCE:1" in change
    assert not any("Looking forward" in str(m) for m in to_grace)  # bodies stay in Connect

    # Every event delivered again (a consumer group that lost its offsets): no new email.
    notifier = container.consumers({"notifier"})[0]
    replay = ConsumerLoop(container.transport, "notifier-replay-check", notifier.topics, notifier.handler)
    assert replay.run_once(timeout_seconds=0) > 0
    replay.close()
    assert len(_mail_to(container, "m2@example.org")) == len(to_grace)
    assert len(_mail_to(container, "m1@example.org")) == len(to_ada)

    # Completion: Ada hears once.
    assert client.post(pair.url + "/complete", headers=pair.mentor).status_code == 200
    deliver()
    deliver()
    assert len(_mail_to(container, "m1@example.org")) == len(to_ada) + 1
    assert len(_mail_to(container, "m2@example.org")) == len(to_grace)


def _entries(messages, meeting_id):
    """(SEQUENCE, METHOD, ORGANIZER address, ATTENDEE addresses) of each calendar entry for the meeting."""
    from icalendar import Calendar

    found = []
    for text in _calendars(messages):
        calendar = Calendar.from_ical(text)
        for entry in calendar.walk("VEVENT"):
            if str(entry["UID"]) == f"meeting-{meeting_id}@connect":
                attendees = entry.get("ATTENDEE", [])
                attendees = attendees if isinstance(attendees, list) else [attendees]
                found.append((int(entry["SEQUENCE"]), str(calendar["METHOD"]), str(entry["ORGANIZER"]),
                              sorted(str(a) for a in attendees)))
    return sorted(found)


def test_meeting_changes_reach_every_calendar_with_one_uid(client, pair, container, deliver, clock):
    """Ada (mentee) arranges a meeting; Grace (mentor) moves it, then cancels it: both calendars
    get every version of the one entry, Ada's own arrangement and Grace's own changes included."""
    deliver()
    meeting = client.post(pair.url + "/meetings", headers=pair.mentee, json={
        "starts_at": (clock.now() + timedelta(days=7)).isoformat(), "duration_minutes": 60, "mode": "video"}).json()
    assert client.patch(f"{pair.url}/meetings/{meeting['id']}", headers=pair.mentor,
                        json={"duration_minutes": 45}).status_code == 200
    assert client.delete(f"{pair.url}/meetings/{meeting['id']}", headers=pair.mentor).status_code == 200
    deliver()
    expected = [(0, "REQUEST", "mailto:m1@example.org", ["mailto:m2@example.org"]),
                (1, "REQUEST", "mailto:m1@example.org", ["mailto:m2@example.org"]),
                (2, "CANCEL", "mailto:m1@example.org", ["mailto:m2@example.org"])]
    assert _entries(_mail_to(container, "m1@example.org"), meeting["id"]) == expected
    assert _entries(_mail_to(container, "m2@example.org"), meeting["id"]) == expected
    own_change = [m for m in _mail_to(container, "m2@example.org") if "changed" in str(m["Subject"])]
    assert "You changed your mentoring meeting with" in own_change[0].get_body(("plain",)).get_content()


def test_support_requests_are_acknowledged_and_answered_by_email(client, pair, auth, container, deliver):
    deliver()
    before = len(_mail_to(container, "m1@example.org"))
    made = client.post("/v1/support-requests", headers=pair.mentee,
                       json={"kind": "contact_partner", "relationship_id": pair.id, "message": "Grace is silent"})
    client.post(f"/v1/support-requests/{made.json()['id']}/resolve", headers=auth("S1", roles=["support"]),
                json={"outcome": "done"})
    deliver()
    new = _mail_to(container, "m1@example.org")
    assert len(new) == before + 2
    assert {"We have received your support request", "Your support request has been completed"} <= {
        str(m["Subject"]) for m in new}
    assert not any("Grace is silent" in str(m) for m in new)  # what the member wrote stays with the team
