"""Portal benchmark: the server time of every page, and its weight, at the demo data size.

    python -m bench.portal                  # 200 mentors + 50 mentees (what `make serve` seeds)
    python -m bench.portal --requests 100

`connect serve`'s site (API + portal, background work running) on a socket, signed in through the
real OpenID Connect flow of the development provider.  A demo mentee gets an accepted relationship
(a meeting, messages, a SWOT, a goal) and a pending one; a mentor and customer service sign in
too.  Each page is then requested one at a time, `--requests` times, after a warm-up: the time is
the server's, measured around the app (every API call the page makes included; the socket and
the client not).  Page
weight is the HTML plus the assets it loads (one stylesheet and an icon; no script, no font).
It also reports the server process's CPU time per page, which depends far less on what else the
machine runs than the wall time does.  Target: p95 <= 50 ms for every page (wall time).
Results go to bench/results/portal.json with the machine and its load average.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from html import unescape
from itertools import islice
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bench._common import machine, percentile
from connect.bootstrap import build_container
from stack.engines.base import free_port
from connect.settings import Settings
from connect.web import create_site
from services.matching.demo import fake_members

RESULTS = Path(__file__).resolve().parent / "results" / "portal.json"
COOKIE = "connect_session"
TARGET_P95_MS = 50.0


class ServerTime:
    """Wraps the site: how long the server spent on the last request (socket and client excluded)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last_ms = 0.0
        self.last_cpu_ms = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            await self.app(scope, receive, send)
        finally:
            if scope["type"] == "http":
                self.last_ms = (time.perf_counter() - started) * 1000
                # CPU of the whole server process meanwhile (the page's threads, and whatever the
                # idle background threads did): what the page costs whatever else the machine runs.
                self.last_cpu_ms = (time.process_time() - cpu) * 1000


class Visitor:
    """A browser's part: follows redirects and keeps the session cookie (which is `Secure`, so
    httpx's own cookie jar would not send it to the plain-HTTP test server)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
        self.cookie: str | None = None

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        for _ in range(10):
            headers = {"Cookie": f"{COOKIE}={self.cookie}"} if self.cookie else {}
            answer = self.http.request(method, url, headers=headers, **kwargs)
            for value in answer.headers.get_list("set-cookie"):
                if value.startswith(COOKIE + "="):
                    self.cookie = value.split(";")[0].split("=", 1)[1] or None
            if answer.status_code not in (302, 303, 307):
                return answer
            url, method, kwargs = answer.headers["location"], "GET", {}
        raise RuntimeError("too many redirects")

    def get(self, url: str) -> httpx.Response:
        return self.request("GET", url)

    def csrf(self) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', self.get("/account").text).group(1)  # type: ignore[union-attr]


def sign_in(base: str, member_id: str | None = None, name: str = "", button: str | None = None) -> Visitor:
    """Through the portal's OpenID Connect sign-in and the development provider's page."""
    visitor = Visitor(base)
    page = visitor.get("/sign-in")
    if button:
        form = re.search(r'<form method="post" action="authorize">((?:(?!</form>).)*Sign in as %s</button>)'
                         % re.escape(button), page.text, re.S)
    else:
        form = re.search(r"<h2>Another member</h2>\s*<form[^>]*>(.*?)</form>", page.text, re.S)
    assert form, "no sign-in form"
    fields = {n: unescape(v) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(1))}
    if member_id:
        fields.update({"member_id": member_id, "name": name, "email": ""})
    landed = visitor.request("POST", str(page.url).split("?")[0], data=fields)
    assert landed.status_code == 200, landed.text[:300]
    return visitor


def setup(base: str, container: Any) -> dict[str, Any]:
    """A mentee with one accepted and one pending relationship, through the API."""
    matching = container.service("matching")
    mentee_id = matching.sign_in_examples(per_kind=1)[-1]["member_id"]  # a mentee-only demo member
    issuer = container.dev_issuer
    api = httpx.Client(base_url=base, timeout=30)
    name_of = {m.member_id: m.name for m in fake_members(200, 50)}

    def auth(member_id: str) -> dict[str, str]:
        return {"Authorization": "Bearer " + issuer.mint(member_id, name_of.get(member_id, member_id),
                                                         f"{member_id.lower()}@example.org")}

    mentors = ["DEMO000001", "DEMO000002"]
    relationships = []
    for mentor in mentors:
        made = api.post("/v1/proposals", headers=auth(mentee_id), json={
            "mentor_id": mentor, "message": "Would you mentor me on my exams?", "areas": ["professional_exams"],
            "duration_months": 6})
        assert made.status_code == 201, made.text
        relationships.append(made.json()["id"])
    accepted, pending = relationships
    assert api.post(f"/v1/relationships/{accepted}/accept", headers=auth(mentors[0])).status_code == 200
    starts = (datetime.now(timezone.utc) + timedelta(days=10)).replace(microsecond=0).isoformat()
    meeting = api.post(f"/v1/relationships/{accepted}/meetings", headers=auth(mentee_id), json={
        "starts_at": starts, "duration_minutes": 60, "mode": "video", "agenda": "Exam plan"}).json()["id"]
    for n in range(5):
        api.post(f"/v1/relationships/{accepted}/messages", headers=auth(mentee_id if n % 2 else mentors[0]),
                 json={"body": f"Message {n}: see you soon."})
    swot = api.post(f"/v1/relationships/{accepted}/tools/swot", headers=auth(mentee_id),
                    json={"strengths": ["Claims"], "weaknesses": ["Speaking"]}).json()["id"]
    api.post(f"/v1/relationships/{accepted}/tools/goals", headers=auth(mentee_id),
             json={"goal": "Pass ACII", "learning_outcomes": "Revision plan"})
    support = api.post("/v1/support-requests", headers=auth(mentee_id),
                       json={"kind": "contact_partner", "relationship_id": accepted, "message": "Help"}).json()["id"]
    return {"mentee": mentee_id, "mentee_name": name_of.get(mentee_id, mentee_id), "mentor": mentors[0],
            "mentor_name": name_of[mentors[0]], "accepted": accepted, "pending": pending, "meeting": meeting,
            "swot": swot, "support": support}


def pages(ids: dict[str, Any]) -> dict[str, list[str]]:
    a, p = ids["accepted"], ids["pending"]
    search = ("/search?run=1&text=exams&expertise=professional_exams&expertise=career_planning&w_expertise=high"
              "&sectors=general_insurance&languages=en&interaction_modes=video&region=london")
    return {
        "mentee": ["/", "/account", "/profile/mentee", "/profile/mentee/edit", "/search", search,
                   f"/mentors/{ids['mentor']}?back=/search", "/relationships", f"/relationships/{a}",
                   f"/relationships/{p}", f"/relationships/{p}/edit", f"/relationships/{a}/dashboard",
                   f"/relationships/{a}/first-conversation", f"/relationships/{a}/tools",
                   f"/relationships/{a}/tools/swot/{ids['swot']}", f"/relationships/{a}/tools/goals/new",
                   f"/relationships/{a}/meetings", f"/relationships/{a}/meetings/{ids['meeting']}",
                   f"/relationships/{a}/messages", "/notifications", "/cpd", "/cpd.csv", "/support", "/help",
                   "/help/faq",
                   "/help/articles/first-conversation", "/help/videos/welcome-to-connect", "/account/delete"],
        "mentor": ["/", "/account", "/profile/mentor", "/profile/mentor/edit", "/relationships"],
        "support": ["/support/queue", f"/support/requests/{ids['support']}"],
        "visitor": ["/"],
    }


def measure(client: Visitor, timer: ServerTime, path: str, requests: int) -> dict[str, Any]:
    for _ in range(3):
        client.get(path)
    timings: list[float] = []
    cpu: list[float] = []
    size = 0
    for _ in range(requests):
        answer = client.get(path)
        timings.append(timer.last_ms)
        cpu.append(timer.last_cpu_ms)
        if answer.status_code != 200:
            raise SystemExit(f"{path}: {answer.status_code} {answer.text[:300]}")
        size = len(answer.content)
    return {"p50_ms": round(percentile(timings, 50), 1), "p95_ms": round(percentile(timings, 95), 1),
            "max_ms": round(max(timings), 1), "cpu_p50_ms": round(percentile(cpu, 50), 1),
            "cpu_p95_ms": round(percentile(cpu, 95), 1), "html_bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mentors", type=int, default=200)
    parser.add_argument("--mentees", type=int, default=50)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--only", default="", help="Measure only pages whose label contains this text "
                                                   "(results are then not written).")
    args = parser.parse_args()
    host = machine()
    folder = Path(tempfile.mkdtemp(prefix="bench-portal-"))
    port = free_port()
    container = build_container(Settings(var_dir=folder, portal_url=f"http://127.0.0.1:{port}"))
    container.upgrade_databases()
    matching = container.service("matching")
    members = fake_members(args.mentors, args.mentees)
    while batch := list(islice(members, 500)):
        matching.import_members((m.member_id, m.name, m.email, m.mentor, m.mentee) for m in batch)
    matching.reindex()
    timer = ServerTime(create_site(container, background=True))
    base = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(timer, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        ids = setup(base, container)
        time.sleep(1.0)  # let relays, consumers and the notifier settle before measuring
        clients = {"mentee": sign_in(base, ids["mentee"], ids["mentee_name"]),
                   "mentor": sign_in(base, ids["mentor"], ids["mentor_name"]),
                   "support": sign_in(base, button="Customer Service (demo)"), "visitor": Visitor(base)}
        if "/choose-account" in str(clients["mentor"].get("/").url):
            clients["mentor"].request("POST", "/choose-account", data={
                "csrf_token": clients["mentor"].csrf(), "account": "mentor", "next": "/"})
        css = len(clients["visitor"].get("/static/portal.css").content)
        icon = len(clients["visitor"].get("/static/favicon.svg").content)
        figures: dict[str, Any] = {}
        for who, paths in pages(ids).items():
            for path in paths:
                label = f"{who} {re.sub(r'[0-9a-f]{8}-[0-9a-f-]{27}', '{id}', path.split('?')[0])}"
                if "?" in path and path.startswith("/search"):
                    label += " (results)"
                if path.split("?")[0] == f"/relationships/{ids['pending']}":
                    label += " (pending)"  # else it would overwrite the accepted relationship's figures
                if args.only not in label:
                    continue
                figures[label] = measure(clients[who], timer, path, args.requests)
                figures[label]["weight_bytes"] = figures[label]["html_bytes"] + (0 if path.endswith(".csv") else css + icon)
                f = figures[label]
                print(f"{label:52s} p50 {f['p50_ms']:6.1f}  p95 {f['p95_ms']:6.1f} ms  CPU p50 {f['cpu_p50_ms']:5.1f}"
                      f"  p95 {f['cpu_p95_ms']:5.1f} ms  {f['weight_bytes'] / 1024:5.1f} KiB", flush=True)
    finally:
        server.should_exit = True
        thread.join(15)
        container.close()
        shutil.rmtree(folder, ignore_errors=True)  # the scratch var/ (SQLite, index, mail)
    worst = max(figures.values(), key=lambda f: f["p95_ms"])
    worst_cpu = max(f["cpu_p95_ms"] for f in figures.values())
    result = {
        "machine": host, "load_average_at_end": list(__import__("os").getloadavg()),
        "data": {"mentors": args.mentors, "mentees": args.mentees}, "requests_per_page": args.requests,
        "assets_bytes": {"portal.css": css, "favicon.svg": icon, "scripts": 0},
        "pages": figures, "worst_p95_ms": worst["p95_ms"], "worst_cpu_p95_ms": worst_cpu,
        "target_p95_ms": TARGET_P95_MS,
        "met": all(f["p95_ms"] <= TARGET_P95_MS for f in figures.values()),
        "heaviest_page_bytes": max(f["weight_bytes"] for f in figures.values()),
    }
    if not args.only:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"worst p95 {result['worst_p95_ms']} ms (target {TARGET_P95_MS} ms: {'met' if result['met'] else 'NOT met'});"
          f" worst CPU p95 {worst_cpu} ms;"
          f" heaviest page {result['heaviest_page_bytes'] / 1024:.1f} KiB; results in {RESULTS}")
    container.close()


if __name__ == "__main__":
    main()
