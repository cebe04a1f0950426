"""The portal as members meet it: `connect serve`'s site on a real socket, driven by Chromium.

One site per module (the embedded default with its background work, so the emails a journey
causes land in its mail folder), a few demo mentors, and members made per test so that journeys
never see each other's relationships.  Every page a test visits goes through `Pages.check`: axe-core
in the page (no serious or critical violation) and a screenshot.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from connect.bootstrap import Container, build_container
from connect.settings import Settings
from services.matching.demo import fake_members
from services.matching.domain.profiles import Location, MenteeProfile, MentorProfile

SERIOUS = ("serious", "critical")


class ShiftedClock:
    """Real time, plus an offset a test may add to (a partner quiet for two weeks, say)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def shift(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@dataclass
class Person:
    member_id: str
    name: str
    email: str


@dataclass
class Site:
    base: str
    container: Container
    mail_dir: Path
    clock: ShiftedClock
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    # Each .eml file parsed once: the file sender links a finished file into place and never
    # rewrites it, and re-parsing the module's whole mail folder on every poll made each wait
    # cost more the more journeys had run before it.
    _parsed: dict[Path, EmailMessage] = field(default_factory=dict)

    def _person(self, role: str) -> Person:
        n = next(self._ids)
        member_id = f"T{os.getpid() % 1000:03d}{n:04d}"
        name = f"{role.capitalize()} Tester{n}"
        return Person(member_id, name, f"{member_id.lower()}@example.org")

    def mentor(self, token: str, expertise: list[str] | None = None, bio: str | None = None,
               also_mentee: bool = False) -> Person:
        """A mentor whose headline carries `token`, so a text search for it ranks them first (meaning
        may list others written alike after them)."""
        person = self._person("mentor")
        profile = MentorProfile(
            headline=f"Claims director and {token} specialist", bio=bio or f"I help people with {token} matters.",
            expertise=expertise or ["career_planning", "claims"], sectors=["general_insurance"],
            career_stage="senior", years_experience=20, languages=["en"], interaction_modes=["video", "email"],
            location=Location(country="GB", region="london", city="London"), employer="Aviva",
            interests=["cycling"])
        mentee = MenteeProfile(goals="Learn to lead a team.", areas_sought=["leadership"]) if also_mentee else None
        self._import(person, profile, mentee)
        return person

    def mentee(self) -> Person:
        person = self._person("mentee")
        self._import(person, None, MenteeProfile(goals="Grow into management.", areas_sought=["career_planning"],
                                                 sectors=["general_insurance"], languages=["en"],
                                                 interaction_modes=["video"],
                                                 location=Location(country="GB", region="london")))
        return person

    def newcomer(self) -> Person:
        """A member Connect has not met yet: no profile at all."""
        return self._person("member")

    def _import(self, person: Person, mentor: MentorProfile | None, mentee: MenteeProfile | None) -> None:
        matching = self.container.service("matching")
        matching.import_members([(person.member_id, person.name, person.email, mentor, mentee)])
        if mentor is not None:
            matching.refresh_index([person.member_id])

    def api(self, person: Person, roles: list[str] | None = None) -> httpx.Client:
        """The public API as `person` (set-up steps that are not the journey under test)."""
        assert self.container.dev_issuer is not None
        token = self.container.dev_issuer.mint(person.member_id, person.name, person.email, roles=roles)
        return httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {token}"}, timeout=15)

    def proposal(self, mentee: Person, mentor: Person, accept: bool = False) -> str:
        """A proposal from `mentee` to `mentor` (accepted if asked), made through the API."""
        with self.api(mentee) as api:
            made = api.post("/v1/proposals", json={"mentor_id": mentor.member_id, "duration_months": 6,
                                                   "message": f"Hello {mentor.name}, will you mentor me?",
                                                   "areas": ["career_planning"]})
            assert made.status_code == 201, made.text
        relationship_id = made.json()["id"]
        if accept:
            with self.api(mentor) as api:
                answer = api.post(f"/v1/relationships/{relationship_id}/accept")
                assert answer.status_code == 200, answer.text
        return relationship_id

    def pair(self, token: str, accept: bool = False) -> tuple[Person, Person, str]:
        """A new mentor (headline carrying `token`), a new mentee, and the mentee's proposal to them."""
        mentor, mentee = self.mentor(token), self.mentee()
        return mentor, mentee, self.proposal(mentee, mentor, accept=accept)

    def mail(self, to: Person, subject: str, timeout: float = 15.0) -> EmailMessage:
        """The email to `to` whose subject contains `subject`, waiting for the notifier."""
        deadline = time.monotonic() + timeout
        while True:
            for path, message in self._mails():
                if to.email in str(message["To"]) and subject in str(message["Subject"]):
                    return message
            if time.monotonic() > deadline:
                seen = [str(message["Subject"]) for _, message in self._mails()]
                raise AssertionError(f"no email to {to.email} about {subject!r}; emails so far: {seen}")
            time.sleep(0.1)

    def _mails(self) -> list[tuple[Path, EmailMessage]]:
        """Every email in the mail folder, in file-name order, each file parsed once."""
        paths = sorted(self.mail_dir.glob("*.eml"))
        for path in paths:
            if path not in self._parsed:
                self._parsed[path] = email.message_from_bytes(  # type: ignore[assignment]
                    path.read_bytes(), policy=email.policy.default)
        return [(path, self._parsed[path]) for path in paths]


def through(locator: Any) -> None:
    """Click a link or button that loads another page, and wait for that page: a click returns
    before the navigation it starts, and reading the page then may read the old one."""
    with locator.page.expect_navigation():
        locator.click()


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    import uvicorn

    from stack.engines.base import free_port
    from connect.web import create_site

    var = tmp_path_factory.mktemp("portal-site")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    clock = ShiftedClock()
    container = build_container(Settings(var_dir=var, portal_url=base, sweep_interval_seconds=3600), clock=clock)
    container.upgrade_databases()
    matching = container.service("matching")
    demo = list(fake_members(30, 0, seed=11))
    matching.import_members((m.member_id, m.name, m.email, m.mentor, m.mentee) for m in demo)
    matching.reindex()
    server = uvicorn.Server(uvicorn.Config(create_site(container, background=True), host="127.0.0.1", port=port,
                                           log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, name="portal-site", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the portal site did not start")
        time.sleep(0.05)
    try:
        yield Site(base, container, container.settings.mail_dir, clock)
    finally:
        server.should_exit = True
        thread.join(15)


def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`CONNECT_PORTAL_SCREENSHOTS` keeps them (docs/screenshots is refreshed from there); else a temp folder."""
    chosen = os.environ.get("CONNECT_PORTAL_SCREENSHOTS", "").strip()
    folder = Path(chosen) if chosen else tmp_path_factory.getbasetemp() / "portal-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Pages:
    """One member's browser context, with the checks every page gets."""

    site: Site
    context: Any
    folder: Path
    prefix: str
    page: Any = None
    checked: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)

    def go(self, path: str) -> Any:
        self.page.goto(self.site.base + path)
        return self.page

    def check(self, name: str) -> None:
        """axe-core in the page: no serious or critical violation; then a full-page screenshot."""
        from axe_playwright_python.sync_playwright import Axe

        self.page.wait_for_load_state()
        results = Axe().run(self.page)
        bad = [(v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:3])
               for v in results.response["violations"] if v.get("impact") in SERIOUS]
        assert not bad, f"accessibility violations on {name} ({self.page.url}): {bad}"
        self.page.screenshot(path=str(self.folder / f"{self.prefix}-{len(self.checked) + 1:02d}-{name}.png"),
                             full_page=True)
        self.checked.append(name)

    def text(self) -> str:
        return re.sub(r"\s+", " ", self.page.inner_text("main"))

    def sign_in(self, person: Person, account: str | None = None) -> None:
        """Through the portal's sign-in and the development provider's page, as a member would."""
        page = self.go("/")
        through(page.get_by_role("link", name="Sign in with your membership details"))
        page.get_by_label("Membership number").fill(person.member_id)
        page.get_by_label("Name").fill(person.name)
        page.get_by_label("Email").fill(person.email)
        through(page.get_by_role("button", name="Sign in", exact=True))
        if "/choose-account" in page.url and account:
            through(page.get_by_role("button", name=f"Use my {account} account"))

    def submit(self, name: str) -> None:
        through(self.page.get_by_role("button", name=name))

    def flash(self) -> str:
        return self.page.locator(".flash").inner_text()


@pytest.fixture
def browse(chromium: Any, site: Site, tmp_path_factory: pytest.TempPathFactory,
           request: pytest.FixtureRequest) -> Iterator[Any]:
    """`browse("mentee")` opens a fresh browser context (its own cookies) for one person."""
    folder = screenshot_dir(tmp_path_factory)
    contexts: list[Any] = []
    test = request.node.name.removeprefix("test_")

    def open_context(who: str) -> Pages:
        context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
        contexts.append(context)
        return Pages(site, context, folder, f"{test}-{who}")

    yield open_context
    for context in contexts:
        context.close()
