"""Help content: every page renders, links only to pages that exist, and Markdown carries no script."""

from __future__ import annotations

import re

from portal import help_pages


def test_markdown_cannot_carry_a_script():
    html = help_pages.to_html('Hi <script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(2)>')
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html  # shown as text, since raw HTML is off
    assert "<a" not in help_pages.to_html("[x](javascript:alert(1))")


def test_every_page_renders_and_its_links_lead_somewhere(browser):
    visitor = browser()
    pages = [*help_pages.listing(""), *help_pages.listing("articles"), *help_pages.listing("videos")]
    assert {p.slug for p in help_pages.listing("")} == {"faq", "privacy", "terms", "cpd"}
    assert len(help_pages.listing("articles")) >= 4 and len(help_pages.listing("videos")) >= 3
    for page in pages:
        answer = visitor.get(page.path)
        assert answer.status_code == 200 and page.title in answer.text, page.path
        for link in re.findall(r'href="(/[^"#]*)"', page.html):
            target = visitor.get(link, follow_redirects=False)
            assert target.status_code in (200, 303), (page.path, link, target.status_code)


def test_the_faq_answers_every_question_of_the_seed_faq():
    """Each journey the FAQ describes is named in ours with the portal's own words."""
    faq = " ".join(help_pages.page("", "faq").html.split())
    for words in ("Relationships", "Actions", "Withdraw", "Edit Account", "Make Unavailable", "Delete Account",
                  "Details", "Edit details", "Reopen Request", "First conversation", "Tools", "Meetings",
                  "SWOT", "G-STAR", "Goals", "I want to be a mentor", "You are currently unavailable to mentees",
                  "privacy policy", "3, 7 and 15 days", "21 days"):
        assert words in faq, words


def test_unknown_help_pages_are_not_found(browser):
    visitor = browser()
    for path in ("/help/nope", "/help/articles/..%2Ffaq", "/help/secret/faq", "/help/articles/FAQ"):
        assert visitor.get(path).status_code == 404, path
