"""Messages: paging, unread counts, one email per burst, none after withdrawal; nudges; dashboard."""

from __future__ import annotations

from datetime import timedelta

from tests.relationships_suite import published


def test_a_burst_of_messages_asks_for_one_email_until_read(client, pair, container, clock):
    for text in ("Hello Grace", "Are you free on Monday?", "Or Tuesday?"):
        sent = client.post(pair.url + "/messages", json={"body": text}, headers=pair.mentee)
        assert sent.status_code == 201, sent.text
        clock.advance(timedelta(minutes=1))
    posted = published(container, types=("MessagePosted",))
    assert [e["data"]["notify"] for e in posted] == [True, False, False]
    assert all("body" not in e["data"] and e["data"]["recipient_id"] == "M2" for e in posted)

    dash = client.get("/v1/dashboard", headers=pair.mentor).json()["items"][0]
    assert dash["unread_messages"] == 3 and dash["started_at"] and dash["planned_end"]

    # Paged newest first; reading marks read; the next message emails again.
    page = client.get(pair.url + "/messages?limit=2", headers=pair.mentor).json()
    assert [m["body"] for m in page["items"]] == ["Or Tuesday?", "Are you free on Monday?"]
    assert page["unread"] == 1 and page["next_cursor"]
    rest = client.get(pair.url + f"/messages?limit=2&cursor={page['next_cursor']}", headers=pair.mentor).json()
    assert [m["body"] for m in rest["items"]] == ["Hello Grace"] and rest["next_cursor"] is None
    assert rest["unread"] == 0
    client.post(pair.url + "/messages", json={"body": "Tuesday suits me"}, headers=pair.mentor)
    client.post(pair.url + "/messages", json={"body": "See you then"}, headers=pair.mentee)
    later = published(container, types=("MessagePosted",))[3:]
    assert [(e["data"]["recipient_id"], e["data"]["notify"]) for e in later] == [("M1", True), ("M2", True)]

    # An email still unread but older than the quiet window: the next message emails again.
    clock.advance(timedelta(hours=7))
    client.post(pair.url + "/messages", json={"body": "Reminder: Tuesday"}, headers=pair.mentee)
    assert published(container, types=("MessagePosted",))[-1]["data"]["notify"] is True


def test_no_messages_to_a_withdrawn_relationship(client, pair, container):
    client.post(pair.url + "/messages", json={"body": "Before"}, headers=pair.mentee)
    assert client.post(pair.url + "/withdraw", headers=pair.mentor).status_code == 200
    refused = client.post(pair.url + "/messages", json={"body": "After"}, headers=pair.mentee)
    assert refused.status_code == 409 and refused.json()["current_status"] == "withdrawn"
    assert client.post(pair.url + "/messages", json={"body": " "}, headers=pair.mentee).status_code in (409, 422)
    assert client.post(pair.url + "/messages", json={"body": "x" * 5001}, headers=pair.mentee).status_code == 422
    # The history stays readable to both.
    assert [m["body"] for m in client.get(pair.url + "/messages", headers=pair.mentor).json()["items"]] == ["Before"]
    assert len(published(container, types=("MessagePosted",))) == 1


def test_nudging_a_quiet_partner(client, pair, container, clock):
    early = client.post(pair.url + "/nudge", headers=pair.mentee)
    assert early.status_code == 409 and "active on" in early.json()["detail"]
    assert client.get(pair.url + "/dashboard", headers=pair.mentee).json()["can_nudge"] is False
    clock.advance(timedelta(days=15))
    assert client.get(pair.url + "/dashboard", headers=pair.mentee).json()["can_nudge"] is True
    nudged = client.post(pair.url + "/nudge", headers=pair.mentee)
    assert nudged.status_code == 202 and nudged.json()["nudged"] == "M2"
    again = client.post(pair.url + "/nudge", headers=pair.mentee)
    assert again.status_code == 409 and "at most one nudge" in again.json()["detail"]
    events = published(container, types=("PartnerNudged",))
    assert [(e["data"]["actor_id"], e["data"]["recipient_id"]) for e in events] == [("M1", "M2")]


def test_dashboard_shows_the_next_meeting(client, pair, clock):
    soon = (clock.now() + timedelta(days=2)).isoformat()
    later = (clock.now() + timedelta(days=9)).isoformat()
    for starts_at in (later, soon):
        assert client.post(pair.url + "/meetings", headers=pair.mentor,
                           json={"starts_at": soon if starts_at == soon else later, "duration_minutes": 45,
                                 "mode": "in_person", "location_or_link": "Institute library"}).status_code == 201
    entry = client.get(pair.url + "/dashboard", headers=pair.mentee).json()
    assert entry["next_meeting"]["starts_at"].startswith(soon[:16]) and entry["my_role"] == "mentee"
    assert entry["first_conversation_open"] is True
    listing = client.get("/v1/dashboard", headers=pair.mentor).json()
    assert listing["items"][0]["id"] == pair.id and listing["items"][0]["next_meeting"]["duration_minutes"] == 45


def test_posts_honour_idempotency_keys(client, pair, container):
    key = {**pair.mentee, "Idempotency-Key": "msg-1"}
    first = client.post(pair.url + "/messages", json={"body": "Only once"}, headers=key)
    again = client.post(pair.url + "/messages", json={"body": "Only once"}, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.headers["idempotent-replayed"] == "true"
    changed = client.post(pair.url + "/messages", json={"body": "Something else"}, headers=key)
    assert changed.status_code == 422
    assert len(client.get(pair.url + "/messages", headers=pair.mentor).json()["items"]) == 1
    assert len(published(container, types=("MessagePosted",))) == 1
