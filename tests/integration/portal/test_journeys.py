"""Every journey of the FAQ, in Chromium, as the members and customer service would click it.

Each test opens a browser context per person (mentee, mentor, customer service), checks what the
pages show and the emails that result; every page visited passes axe-core and is photographed
(`Pages.check`).  Steps that are not the journey under test (an accepted relationship to start
from) are made through the public API.
"""

from __future__ import annotations

import re
import time

from tests.integration.portal.conftest import body_text, through


def test_sign_in_choose_and_switch_account(browse, site):
    both = site.mentor("quillwright", also_mentee=True)
    me = browse("member")
    page = me.go("/")
    me.check("landing")
    through(page.get_by_role("link", name="Sign in with your membership details"))
    assert "Development sign-in" in page.content()
    me.check("dev-sign-in")
    page.get_by_label("Membership number").fill(both.member_id)
    page.get_by_label("Name").fill(both.name)
    page.get_by_label("Email").fill(both.email)
    through(page.get_by_role("button", name="Sign in", exact=True))
    assert "/choose-account" in page.url
    me.check("choose-account")
    me.submit("Use my mentee account")
    assert "You are using your mentee account" in me.flash()
    main_nav = page.get_by_role("navigation", name="Main")
    assert main_nav.get_by_role("link", name="Find a mentor").is_visible()
    me.check("home-mentee")
    me.submit("Switch to mentor account")
    assert "You are using your mentor account" in me.flash()
    assert main_nav.get_by_role("link", name="Find a mentor").count() == 0
    me.submit("Sign out")
    assert "You have signed out" in me.flash()
    assert page.get_by_role("link", name="Sign in with your membership details").is_visible()
    # Each sign-in asks again which account to use.
    me.sign_in(both)
    assert "/choose-account" in page.url


def _tab_to(page, text: str, exact: bool = False, limit: int = 250) -> None:
    """Press Tab until the focused control's text, value or label contains (or is) `text`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => { const e = document.activeElement;
            const label = e.labels && e.labels.length ? e.labels[0].innerText : "";
            return [e.innerText, e.value, e.getAttribute("aria-label"), label].filter(Boolean).join(" "); }""")
        if (focused.strip() == text) if exact else (text in focused):
            return
    raise AssertionError(f"Tab never reached {text!r}")


def test_keyboard_only_from_sign_in_to_connection_request(browse, site):
    """The core journey with the keyboard alone: Tab to each control, type, press Enter."""
    mentor = site.mentor("wagtail")
    mentee = site.mentee()
    me = browse("keyboard")
    page = me.go("/")
    _tab_to(page, "Sign in with your membership details")
    page.keyboard.press("Enter")
    page.wait_for_url("**/dev-oidc/authorize?*")
    for label, value in (("Membership number", mentee.member_id), ("Name", mentee.name), ("Email", mentee.email)):
        _tab_to(page, label)
        page.keyboard.type(value)
    _tab_to(page, "Sign in", exact=True)
    page.keyboard.press("Enter")
    page.wait_for_url(site.base + "/")
    _tab_to(page, "Find a mentor")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search")
    _tab_to(page, "Words to look for")
    page.keyboard.type("wagtail")
    page.keyboard.press("Enter")  # submits the search form
    page.wait_for_url("**/search?run=1*")
    _tab_to(page, mentor.name)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/mentors/{mentor.member_id}?**")
    _tab_to(page, "Your message")
    page.keyboard.type("Found you with the keyboard alone.")
    _tab_to(page, "Send connection request")
    page.keyboard.press("Enter")
    page.wait_for_url("**/relationships/*")
    assert f"Your connection request was sent to {mentor.name}" in me.flash()
    site.mail(mentor, f"New mentoring proposal from {mentee.name}")


def test_find_a_mentor_open_profile_and_go_back(browse, site):
    mentor = site.mentor("zebracorn", expertise=["actuarial", "career_planning"])
    mentee = site.mentee()
    me = browse("mentee")
    me.sign_in(mentee)
    page = me.go("/search")
    me.check("search-form")
    page.get_by_label("Words to look for (optional)").fill("zebracorn")
    page.get_by_label("Actuarial").check()
    page.locator("#w_expertise").select_option("high")
    me.submit("Search")
    results_url = page.url
    # The form started from the mentee's profile (areas, sector, language...); the words rank them first.
    assert "mentors found" in me.text()
    result = page.locator(".result").first
    assert mentor.name in result.inner_text()
    assert "100% match" in result.inner_text()
    assert "Actuarial" in result.inner_text() and "Matches: Expertise" in result.inner_text()
    assert "You share" in result.inner_text()  # sector, region, language in common with the mentee
    me.check("search-results")
    through(result.get_by_role("link", name=mentor.name))
    assert page.locator("h1").inner_text() == mentor.name
    assert "zebracorn specialist" in me.text()
    me.check("mentor-profile")
    through(page.get_by_role("link", name="Back to your search results"))
    assert page.url == results_url
    assert mentor.name in page.locator(".result").first.inner_text()
    # Paging: a broad search has more than one page, and the next page is another address.
    page = me.go("/search?run=1&languages=en")
    first = page.locator(".result h3").all_inner_texts()
    through(page.get_by_role("link", name="Next page"))
    assert "page 2" in me.text()
    assert set(page.locator(".result h3").all_inner_texts()).isdisjoint(first)
    me.check("search-page-2")
    through(page.get_by_role("link", name="First page"))
    assert page.locator(".result h3").all_inner_texts() == first


def test_send_a_connection_request_and_the_mentor_accepts(browse, site):
    mentor = site.mentor("lanternfish")
    mentee = site.mentee()
    me = browse("mentee")
    me.sign_in(mentee)
    page = me.go("/search?run=1&text=lanternfish")
    through(page.get_by_role("link", name=mentor.name))
    page.get_by_label("Your message").fill("I would love your help with <b>career planning</b>.")
    page.get_by_label("For how many months?").fill("6")
    me.submit("Send connection request")
    assert f"Your connection request was sent to {mentor.name}" in me.flash()
    assert "I would love your help with <b>career planning</b>." in me.text()  # shown as typed, not as HTML
    me.check("proposal-sent")
    received = site.mail(mentor, f"New mentoring proposal from {mentee.name}")
    text = body_text(received)
    assert "Career planning" in text and "career_planning" not in text  # labels, not ids
    relationship_link = re.search(r"http://127\.0\.0\.1:\d+/relationships/[0-9a-f-]+", text)
    assert relationship_link, text

    # Back in the search results, the mentor is marked as already in touch.
    page = me.go("/search?run=1&text=lanternfish")
    assert "You are already in touch: your relationship is pending" in page.locator(".result").first.inner_text()
    # And so is their profile page, which offers no second request.
    through(page.get_by_role("link", name=mentor.name, exact=True))
    assert f"You are already in touch with {mentor.name}: your relationship is pending" in me.text()
    assert page.get_by_role("button", name="Send connection request").count() == 0
    me.check("mentor-profile-in-touch")

    them = browse("mentor")
    them.sign_in(mentor)
    page = them.go("/relationships")
    row = page.get_by_role("row", name=re.compile(mentee.name))
    assert "Pending" in row.inner_text()
    them.check("relationships-mentor")
    row.get_by_text("Actions").click()
    them.check("actions-menu")
    through(row.get_by_role("button", name="Accept"))
    assert "You accepted the proposal" in them.flash()
    assert page.get_by_role("link", name="First conversation").first.is_visible()
    them.check("dashboard-accepted")
    site.mail(mentee, f"{mentor.name} accepted your mentoring proposal")
    # The link in the email opens the same relationship for the mentor.
    page.goto(relationship_link.group(0))
    assert page.locator("h1").inner_text() == f"Proposal from {mentee.name}"
    # The mentee's Notifications say what the emails said, newest first, and lead to the same pages.
    page = me.go("/notifications")
    accepted = f"{mentor.name} accepted your mentoring proposal"
    deadline = time.monotonic() + 15
    while accepted not in me.text() and time.monotonic() < deadline:  # the feed's consumer may lag the email's
        time.sleep(0.2)
        page.reload()
    assert page.locator(".notifications li").first.inner_text().startswith("New")
    me.check("notifications")
    me.submit("Mark all as read")
    assert "Every notification is marked read" in me.flash() and "0 unread" in me.text()
    through(page.get_by_role("link", name=accepted))
    assert page.url.endswith(f"/relationships/{relationship_link.group(0).rsplit('/', 1)[1]}/dashboard")


def test_edit_details_of_a_proposal(browse, site):
    mentor, mentee, relationship = site.pair("otterbridge")
    me = browse("mentee")
    me.sign_in(mentee)
    page = me.go("/relationships")
    through(page.get_by_role("row", name=re.compile(mentor.name)).get_by_role("link", name=re.compile("Details")))
    assert page.url.endswith(f"/relationships/{relationship}")
    me.check("details-pending")
    through(page.get_by_role("link", name="Edit details"))
    me.check("edit-details")
    page.get_by_label("Your message").fill("A clearer request: help me prepare for my ACII exams.")
    page.get_by_label("Professional exams and CPD").check()
    me.submit("Save changes")
    assert "Your changes to the proposal are saved" in me.flash()
    assert "help me prepare for my ACII exams" in me.text()
    assert "Earlier versions of the proposal" in me.text()
    changed = site.mail(mentor, f"{mentee.name} changed their mentoring proposal")
    assert "areas" in body_text(changed) and f"{site.base}/relationships/{relationship}" in body_text(changed)


def test_withdraw_and_reopen_a_proposal_from_details(browse, site):
    mentor, mentee, relationship = site.pair("harbourlight")
    me = browse("mentee")
    me.sign_in(mentee)
    page = me.go(f"/relationships/{relationship}")
    left = page.locator(".proposal-actions .left")
    left.get_by_label(re.compile("Reason")).fill("My plans changed.")
    through(left.get_by_role("button", name="Withdraw"))
    assert "You withdrew" in me.flash()
    assert "Withdrawn" in page.locator(".status").first.inner_text()
    me.check("details-withdrawn")
    site.mail(mentor, f"{mentee.name} withdrew their mentoring proposal")
    through(page.locator(".proposal-actions .right").get_by_role("button", name="Reopen Request"))
    assert "You reopened the request" in me.flash()
    assert "Pending" in page.locator(".status").first.inner_text()
    site.mail(mentor, f"{mentee.name} reopened a mentoring proposal")


def test_withdraw_from_a_relationship_with_the_actions_menu(browse, site):
    mentor, mentee, _relationship = site.pair("windmill", accept=True)
    them = browse("mentor")
    them.sign_in(mentor)
    page = them.go("/relationships")
    row = page.get_by_role("row", name=re.compile(mentee.name))
    row.get_by_text("Actions").click()
    through(row.get_by_role("button", name="Withdraw"))
    assert "You withdrew" in them.flash()
    assert "Withdrawn" in page.get_by_role("row", name=re.compile(mentee.name)).inner_text()
    them.check("relationships-after-withdraw")
    site.mail(mentee, f"{mentor.name} ended your mentoring relationship")


def test_reopen_a_rejected_proposal(browse, site):
    mentor, mentee, relationship = site.pair("juniper")
    them = browse("mentor")
    them.sign_in(mentor)
    page = them.go(f"/relationships/{relationship}")
    them.check("details-mentor-pending")
    page.get_by_label(re.compile("Reason")).fill("I am too busy this month.")
    them.submit("Reject")
    assert "You rejected the proposal" in them.flash()
    site.mail(mentee, f"{mentor.name} declined your mentoring proposal")
    # Rejected proposals stay on the Relationships dashboard, with Reopen Request bottom left.
    page = them.go("/relationships")
    through(page.get_by_role("row", name=re.compile(mentee.name)).get_by_role("link", name=re.compile("Details")))
    through(page.locator(".proposal-actions .left").get_by_role("button", name="Reopen Request"))
    assert "You reopened the request" in them.flash()
    them.check("details-reopened")
    site.mail(mentee, f"{mentor.name} reopened a mentoring proposal")


def test_first_conversation_and_the_tools(browse, site):
    mentor, mentee, relationship = site.pair("kingfisher", accept=True)
    me = browse("mentee")
    me.sign_in(mentee)
    page = me.go(f"/relationships/{relationship}/dashboard")
    through(page.get_by_role("link", name="First conversation").first)
    assert "Breaking the ice" in me.text()
    assert "What would make this mentoring relationship a success for you in 6 months?" in me.text()
    page.get_by_label("How you contact each other").fill("Email first, then a video call.")
    page.get_by_label("Who arranges meetings").select_option("mentee")
    me.submit("Save agreement")
    assert "Your agreement is saved" in me.flash()
    me.check("first-conversation")
    # SWOT: add, then amend (a new version), with both versions kept.
    through(page.get_by_role("link", name="Start a SWOT"))
    page.get_by_label("Strengths").fill("Claims knowledge\nCustomer empathy")
    page.get_by_label("Weaknesses").fill("Public speaking")
    me.submit("Save")
    assert "Your SWOT is saved" in me.flash()
    page.get_by_label("Weaknesses").fill("Public speaking\nDelegating")
    me.submit("Save")
    assert "A new version of your SWOT is saved" in me.flash()
    assert "Version 2" in me.text()
    page.get_by_text(re.compile("^Version 1,")).click()
    me.check("swot-versions")
    # G-STAR and Goals from the Tools page.
    page = me.go(f"/relationships/{relationship}/tools")
    through(page.get_by_role("link", name="Add a new G-STAR"))
    page.get_by_label("Goals: what do you want to achieve?").fill("Lead my first team meeting.")
    me.submit("Save")
    page = me.go(f"/relationships/{relationship}/tools")
    through(page.get_by_role("link", name="Add a new Goals"))
    page.get_by_label("Goal", exact=True).fill("Pass the ACII exam")
    page.get_by_label("Status").select_option("in_progress")
    page.get_by_label("What you learned (shown in your CPD record)").fill("How to plan revision.")
    me.submit("Save")
    me.check("goal")
    # The mentor sees and can amend the same tools.
    them = browse("mentor")
    them.sign_in(mentor)
    page = them.go("/relationships")
    row = page.get_by_role("row", name=re.compile(mentee.name))
    row.get_by_text("Actions").click()
    through(row.get_by_role("link", name="Tools"))
    assert "Pass the ACII exam" in them.text()
    assert "G-STAR 1" in them.text() and "SWOT 1" in them.text()
    them.check("tools-mentor")
    through(page.get_by_role("link", name="SWOT 1"))
    page.get_by_label("Opportunities").fill("A new team is forming")
    them.submit("Save")
    assert "Version 3" in them.text()


def test_meetings_arrange_change_cancel(browse, site):
    mentor, mentee, relationship = site.pair("nightjar", accept=True)
    me = browse("mentee")
    me.sign_in(mentee)
    page = me.go("/relationships")
    page.get_by_role("row", name=re.compile(mentor.name)).get_by_text("Actions").click()
    through(page.get_by_role("row", name=re.compile(mentor.name)).get_by_role("link", name="Tools"))
    through(page.get_by_role("link", name="Meetings").first)
    assert page.url.endswith(f"/relationships/{relationship}/meetings")
    me.check("meetings")
    next_year = str(site.clock.now().year + 1)
    page.get_by_label("Date").fill(f"{next_year}-03-10")
    page.get_by_label("Start time").fill("14:30")
    page.get_by_label("How you meet").select_option("video")
    page.get_by_label("Where, or the video link").fill("https://video.example.org/room/7")
    page.get_by_label("Agenda").fill("Exam plan")
    me.submit("Save")
    assert "The meeting is saved" in me.flash()
    invitation = site.mail(mentor, f"Meeting with {mentee.name} on")
    assert any(part.get_content_type() == "text/calendar" for part in invitation.walk())
    through(page.get_by_role("link", name=re.compile("Change or cancel")))
    me.check("meeting")
    # The mentor changes the agenda while the mentee has the page open: the mentee's change is
    # refused with a message (not an error page) and the meeting as it now is.
    meeting_id = page.url.rsplit("/", 1)[1]
    with site.api(mentor) as api:
        changed = api.patch(f"/v1/relationships/{relationship}/meetings/{meeting_id}",
                            json={"agenda": "Exam plan and revision timetable"})
        assert changed.status_code == 200, changed.text
    page.get_by_label("Start time").fill("15:00")
    me.submit("Save changes")
    assert "The meeting was changed by someone else after you opened this page" in me.text()
    assert page.get_by_label("Agenda").input_value() == "Exam plan and revision timetable"
    assert page.get_by_label("Start time").input_value() == "14:30"
    me.check("meeting-changed-meanwhile")
    page.get_by_label("Start time").fill("15:00")
    me.submit("Save changes")
    assert "The meeting is changed" in me.flash()
    site.mail(mentor, f"Meeting with {mentee.name} changed")
    through(page.get_by_role("link", name=re.compile("Change or cancel")))
    page.get_by_label(re.compile("Reason")).fill("Clash with an exam")
    me.submit("Cancel the meeting")
    assert "The meeting is cancelled" in me.flash()
    assert "Cancelled" in me.text()
    site.mail(mentor, "cancelled")


def test_messages_between_partners(browse, site):
    mentor, mentee, relationship = site.pair("starling", accept=True)
    me = browse("mentee")
    me.sign_in(mentee)
    page = me.go(f"/relationships/{relationship}/dashboard")
    through(page.get_by_role("link", name=re.compile("^Messages")).first)
    page.get_by_label("Your message").fill("Thank you for accepting! <script>alert(1)</script>")
    me.submit("Send message")
    assert "Your message is sent" in me.flash()
    assert "<script>alert(1)</script>" in me.text()  # escaped: shown as text
    me.check("messages")
    site.mail(mentor, f"New message from {mentee.name}")
    them = browse("mentor")
    them.sign_in(mentor)
    page = them.go("/")
    assert "1" in page.get_by_role("row", name=re.compile(mentee.name)).inner_text()  # one unread
    page = them.go(f"/relationships/{relationship}/messages")
    assert "Thank you for accepting!" in them.text()
    # The mentor completes the relationship from its dashboard; the mentee hears of it.
    page = them.go(f"/relationships/{relationship}/dashboard")
    them.submit("Complete the relationship")
    assert "You marked the relationship as complete" in them.flash()
    assert "Completed" in page.locator(".status").first.inner_text()
    site.mail(mentee, f"Your mentoring relationship with {mentor.name} is complete")


def test_make_unavailable_and_available_again(browse, site):
    mentor = site.mentor("pelican")
    them = browse("mentor")
    them.sign_in(mentor)
    page = them.go("/account")
    them.check("edit-account-mentor")
    them.submit("Make Unavailable")
    assert "You are currently unavailable to mentees" in page.locator(".notice").inner_text()
    them.check("account-unavailable")
    page = them.go("/profile/mentor")
    assert "You are currently unavailable to mentees" in page.locator(".notice").inner_text()
    them.check("profile-unavailable")
    mentee = browse("mentee")
    mentee.sign_in(site.mentee())
    mentee.go("/search?run=1&text=pelican")
    # Search reads meaning too, so mentors written like this one may still be listed; this one is not.
    assert "mentors found" in mentee.text() and mentor.name not in mentee.text()
    page = them.go("/account")
    them.submit("Make Available")
    assert page.locator(".notice").count() == 0
    mentee.go("/search?run=1&text=pelican")
    assert mentor.name in mentee.text()


def test_new_member_becomes_mentee_then_also_mentor(browse, site):
    newcomer = site.newcomer()
    me = browse("newcomer")
    me.sign_in(newcomer)
    page = me.page
    assert page.url.endswith("/account")
    assert newcomer.email in me.text()
    assert page.get_by_role("link", name="sign in to your Society website").is_visible()
    me.check("edit-account-new")
    page.get_by_label("I want to be a mentee").check()
    me.submit("Save and edit my new profile")
    assert page.url.endswith("/profile/mentee/edit?new=1")
    me.check("mentee-profile-new")
    page.get_by_label("Your goals").fill("Find my feet in underwriting.")
    page.locator("#areas_sought").get_by_label("Underwriting").check()
    me.submit("Save profile")
    assert "you are now using your mentee account" in me.flash()
    me.check("mentee-profile")
    page = me.go("/account")
    page.get_by_label("I want to be a mentor").check()
    me.submit("Save and edit my new profile")
    me.submit("Save profile")  # nothing filled in: the API's validation comes back on the form
    assert "Please check the form" in me.text()
    assert page.locator("#headline").get_attribute("aria-invalid") == "true"
    me.check("mentor-profile-errors")
    page.get_by_label("Headline").fill("Underwriter, ten years in property")
    page.locator("#expertise").get_by_label("Underwriting").check()
    me.submit("Save profile")
    assert "you are now using your mentor account" in me.flash()
    assert page.get_by_role("button", name="Switch to mentee account").is_visible()
    # The profile form open in two tabs: the second save would overwrite the first, so it is refused.
    page = me.go("/profile/mentor/edit")
    other_tab = me.context.new_page()
    other_tab.goto(site.base + "/profile/mentor/edit")
    other_tab.get_by_label("Headline").fill("Underwriter, eleven years in property")
    through(other_tab.get_by_role("button", name="Save profile"))
    other_tab.close()
    page.get_by_label("Headline").fill("Property underwriter")
    me.submit("Save profile")
    assert "Your profile was changed somewhere else" in me.text()
    assert page.get_by_label("Headline").input_value() == "Underwriter, eleven years in property"
    me.check("mentor-profile-changed-meanwhile")
    page.get_by_label("Headline").fill("Property underwriter")
    me.submit("Save profile")
    assert "Your profile is saved" in me.flash()


def test_delete_account(browse, site):
    mentor, mentee, _relationship = site.pair("heron", accept=True)
    me = browse("mentee")
    me.sign_in(mentee)
    page = me.go("/account")
    through(page.get_by_role("link", name="Delete Account"))
    me.check("delete-confirm")
    me.submit("Delete Account")  # not confirmed yet
    assert "Tick the box to confirm" in me.text()
    page.get_by_label("Yes, I want to delete my Connect account").check()
    me.submit("Delete Account")
    assert "Your account is deleted" in me.text()
    assert "withdrawn from 1 open relationship" in me.text()
    me.check("account-deleted")
    # Deleting an account withdraws from the relationship, and the partner reads that they left.
    site.mail(mentor, f"{mentee.name} has left Connect")
    me.sign_in(mentee)
    assert "This account was deleted" in me.text()


def test_cpd_record_and_download(browse, site):
    mentor, mentee, relationship = site.pair("osprey", accept=True)
    with site.api(mentee) as api:
        goal = api.post(f"/v1/relationships/{relationship}/tools/goals",
                        json={"goal": "Chair a meeting", "learning_outcomes": "Prepare an agenda."})
        assert goal.status_code == 201, goal.text
    me = browse("mentee")
    me.sign_in(mentee)
    page = me.go("/")
    through(page.get_by_role("link", name="CPD record"))
    assert "Chair a meeting" in me.text() and mentor.name in me.text()
    assert "Career planning" in me.text()
    me.check("cpd")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CPD record (CSV)").click()
    saved = download.value.path()
    content = open(saved, encoding="utf-8").read()
    assert content.splitlines()[0].startswith("activity,relationship_id,role,counterpart,date")
    assert "Chair a meeting" in content
    assert download.value.suggested_filename.startswith("connect-cpd-")


def test_support_request_worked_by_customer_service(browse, site):
    mentor, mentee, relationship = site.pair("puffin", accept=True)
    with site.api(mentee) as api:
        assert api.post(f"/v1/relationships/{relationship}/messages", json={"body": "private words"}).status_code == 201
    me = browse("mentee")
    me.sign_in(mentee)
    page = me.go("/support")
    me.check("support-form")
    page.get_by_label("Please contact my mentoring partner for me").check()
    page.get_by_label(re.compile("Which relationship")).select_option(relationship)
    page.get_by_label("Tell us more").fill("My mentor has not replied for a month.")
    me.submit("Send request")
    assert "Your request was sent" in me.flash()
    site.mail(mentee, "We have received your support request")

    desk = browse("support")
    page = desk.go("/")
    through(page.get_by_role("link", name="Sign in with your membership details"))
    through(page.get_by_role("button", name="Sign in as Customer Service (demo)"))
    assert page.url.endswith("/support/queue")
    desk.check("support-queue")
    through(page.get_by_role("row", name=re.compile(mentee.member_id)).get_by_role("link", name=re.compile("Open")))
    assert "My mentor has not replied for a month." in desk.text()
    assert "Messages 1" in desk.text()
    assert "private words" not in page.content()  # customer service never sees what members wrote
    assert f"{mentor.name}, {mentor.email}" in desk.text()  # the partner, shown to customer service only
    desk.check("support-request")
    # Customer service writes to the mentor on the mentee's behalf; Connect emails it to them.
    page.get_by_label(f"Message to {mentor.name}").fill("Your mentee would like to hear from you this week.")
    desk.submit("Send to the partner")
    assert "Your message was emailed to the member's partner" in desk.flash()
    assert "Your mentee would like to hear from you this week." in desk.text()
    written = site.mail(mentor, "A message from Connect customer service")
    assert mentee.name in str(written["Subject"])
    assert "Your mentee would like to hear from you this week." in body_text(written)
    page.get_by_label("Done").check()
    page.get_by_label("Note to the member (optional)").fill("We have emailed your mentor.")
    desk.submit("Resolve")
    assert "The request is resolved" in desk.flash()
    site.mail(mentee, "Your support request has been completed")
    # Members find no queue.
    page = me.go("/support/queue")
    assert page.locator("h1").inner_text() == "Page not found"


def test_erasure_request_approved(browse, site):
    mentee = site.mentee()
    me = browse("mentee")
    me.sign_in(mentee)
    page = me.go("/account")
    through(page.get_by_role("link", name="send a support request"))
    assert page.get_by_label("Permanently delete all my personal data").is_checked()
    me.submit("Send request")
    desk = browse("support")
    page = desk.go("/sign-in")
    through(page.get_by_role("button", name="Sign in as Customer Service (demo)"))
    through(page.get_by_role("row", name=re.compile(mentee.member_id)).get_by_role("link", name=re.compile("Open")))
    assert "Approving erases the member's personal data" in desk.text()
    page.get_by_label("Approve: erase the member's data").check()
    desk.submit("Resolve")
    assert "The request is resolved" in desk.flash()
    me.go("/account")
    assert "This account was deleted" in me.text()


def test_help_pages(browse, site):
    visitor = browse("visitor")
    page = visitor.go("/help")
    visitor.check("help")
    for link, heading in (("Frequently asked questions", "Frequently asked questions"),
                          ("Privacy policy", "Privacy policy"), ("Terms of use", "Terms of use"),
                          ("Connect and your CPD", "Connect and your CPD")):
        visitor.go("/help")
        through(page.locator("main").get_by_role("link", name=link, exact=True))
        assert page.locator("h1").inner_text() == heading
        visitor.check(heading.lower().replace(" ", "-"))
    assert page.get_by_role("link", name="The CPD scheme rules").get_attribute("href").endswith("/cpd-scheme-rules/")
    visitor.go("/help")
    through(page.get_by_role("link", name="Your first conversation"))
    assert "Make an agreement" in visitor.text()
    visitor.check("article")
    visitor.go("/help")
    through(page.get_by_role("link", name="Welcome to Connect"))
    assert "Transcript" in visitor.text()
    visitor.check("video")


def test_nudge_a_quiet_partner(browse, site):
    """Last in the module: it moves the site's clock two weeks on."""
    mentor, mentee, relationship = site.pair("curlew", accept=True)
    site.clock.shift(days=15)
    me = browse("mentee")
    me.sign_in(mentee)
    page = me.go(f"/relationships/{relationship}/dashboard")
    me.check("dashboard-nudge")
    me.submit(f"Nudge {mentor.name}")
    assert "friendly reminder" in me.flash()
    site.mail(mentor, f"{mentee.name} would like to hear from you")
    assert page.get_by_role("button", name=f"Nudge {mentor.name}").count() == 0
