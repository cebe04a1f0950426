"""`connect stack up` in an empty folder brings up the distributed shape with real
engines; the CLI and the API work against the printed settings; events flow
API -> outbox -> relay -> Kafka -> consumers; `connect stack down` leaves no
process behind.  One test: starting every engine is the expensive part."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import smtplib
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from stack.engines.processes import process_stat
from connect.settings import all_setting_names

from tests.waiting import eventually

CONNECT = [str(Path(sys.executable).parent / "connect")]


def _clean_env() -> dict[str, str]:
    """The caller's environment without any CONNECT_* setting: the stack must bring its own."""
    settings = all_setting_names()
    return {name: value for name, value in os.environ.items() if name not in settings}


def _parse_exports(text: str) -> dict[str, str]:
    exports = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if words[:1] == ["export"]:
            name, _, value = words[1].partition("=")
            exports[name] = value
    return exports


def _processes_in(folder: Path) -> list[str]:
    """Every live process whose command line or working directory is inside `folder`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
            state = process_stat(proc.name)[0]
        except OSError:
            continue
        if state == "Z":
            continue
        if str(folder) in cmdline or cwd.startswith(str(folder)):
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found


@pytest.fixture
def stack_folder() -> Iterator[Path]:
    """An empty folder the PostgreSQL account can reach too (as root, the server runs as
    `postgres`, and pytest's own temp folders are private to the user)."""
    folder = Path(tempfile.mkdtemp(prefix="connect-stack-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_stack_up_runs_the_distributed_shape_and_down_stops_it(stack_folder: Path, tmp_path: Path) -> None:
    folder = stack_folder
    env = _clean_env()
    up = subprocess.run(CONNECT + ["stack", "up"], cwd=folder, env=env, capture_output=True, text=True,
                        timeout=300)
    try:
        assert up.returncode == 0, up.stderr[-6000:]
        settings = _parse_exports(up.stdout)
        assert {"CONNECT_API_URL", "CONNECT_VAR_DIR", "CONNECT_DATABASE_URL", "CONNECT_SEARCH_URL",
                "CONNECT_KAFKA_BOOTSTRAP", "CONNECT_CELERY_BROKER", "CONNECT_SMTP_URL",
                "CONNECT_MAIL_DIR"} <= set(settings)
        assert set(settings) <= all_setting_names()
        # Elasticsearch is the distributed default (`--search opensearch` picks OpenSearch).
        assert settings["CONNECT_SEARCH_URL"].startswith("elasticsearch+http://")
        api = settings["CONNECT_API_URL"]
        stack_env = {**env, **settings}
        state = json.loads((folder / "var" / "stack" / "state.json").read_text())
        status = subprocess.run(CONNECT + ["stack", "status"], cwd=folder, env=env, capture_output=True,
                                text=True, timeout=60)
        assert status.returncode == 0, status.stdout + status.stderr
        assert all(": running (pid " in line for line in status.stdout.splitlines()), status.stdout

        # `connect token` with the printed settings mints what the stack's API accepts.
        def token(member_id: str, name: str, email: str) -> str:
            minted = subprocess.run(CONNECT + ["token", member_id, "--name", name, "--email", email],
                                    cwd=tmp_path, env=stack_env, capture_output=True, text=True, timeout=60)
            assert minted.returncode == 0, minted.stderr
            return minted.stdout.strip()

        mentor = {"Authorization": "Bearer " + token("M1", "Ada Lovelace", "ada@example.org")}
        mentee = {"Authorization": "Bearer " + token("E1", "Grace Hopper", "grace@example.org")}
        with httpx.Client(base_url=api, timeout=30) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert client.get("/v1/members/me").status_code == 401
            me = client.get("/v1/members/me", headers=mentor)
            assert me.status_code == 200 and me.json()["name"] == "Ada Lovelace"
            assert client.get("/v1/members/me", headers=mentee).status_code == 200

            # Events reach Kafka through the relay and come out of the ops consumer into Elasticsearch.
            search = settings["CONNECT_SEARCH_URL"].removeprefix("elasticsearch+")

            def mirrored_members() -> set[str]:
                response = httpx.post(f"{search}/connect-events-*/_search", json={
                    "size": 20, "query": {"term": {"type": "MemberDetailsChanged"}}}, timeout=10)
                if response.status_code != 200:
                    return set()
                return {hit["_source"]["member_id"] for hit in response.json()["hits"]["hits"]}

            eventually(lambda: {"M1", "E1"} <= mirrored_members(), 60, "member events mirrored")

            # The SMTP sink keeps whatever it accepts as an .eml file under var/mail.
            _send_probe_mail(settings["CONNECT_SMTP_URL"])
            eventually(lambda: [p for p in (folder / "var" / "mail").glob("*.eml")
                                 if b"Subject: stack probe" in p.read_bytes()], 10, "the probe .eml")

            # The member portal answers at its own address and sends members to sign in at the API.
            portal = httpx.get(settings["CONNECT_PORTAL_URL"] + "/", timeout=30)
            assert portal.status_code == 200 and "Sign in with your membership details" in portal.text
            signing_in = httpx.get(settings["CONNECT_PORTAL_URL"] + "/sign-in", timeout=30)
            assert signing_in.headers["location"].startswith(f"{api}/dev-oidc/authorize?"), signing_in.headers

            paths = client.get("/openapi.json").json()["paths"]
            if "/v1/members/me/mentor-profile" in paths and "/v1/proposals" in paths:
                _propose_and_expect_mail(client, mentor, mentee, folder, state, stack_env)
    finally:
        down = subprocess.run(CONNECT + ["stack", "down"], cwd=folder, env=env, capture_output=True, text=True,
                              timeout=180)
    assert down.returncode == 0, down.stderr
    report = dict(line.split(": ", 1) for line in down.stdout.splitlines())
    assert {"postgres", "redis", "kafka", "elasticsearch", "api", "portal", "relay", "ops", "worker", "beat",
            "smtp-sink"} <= set(report) and "opensearch" not in report
    assert set(report.values()) <= {"stopped", "killed"}, report
    assert _processes_in(folder) == []
    assert subprocess.run(CONNECT + ["stack", "status"], cwd=folder, env=env, capture_output=True,
                          timeout=60).returncode == 1


def _send_probe_mail(smtp_url: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "ops@example.org", "probe@example.org", "stack probe"
    message.set_content("Is anyone there?")
    parsed = urlsplit(smtp_url)
    with smtplib.SMTP(parsed.hostname or "127.0.0.1", parsed.port or 25, timeout=10) as smtp:
        smtp.send_message(message)


def _propose_and_expect_mail(client: httpx.Client, mentor: dict[str, str], mentee: dict[str, str],
                             folder: Path, state: dict[str, Any], stack_env: dict[str, str]) -> None:
    taxonomy = client.get("/v1/taxonomy", headers=mentor).json()
    first = {key: [item["id"] for item in values[:1]] for key, values in taxonomy.items()}
    profile = {
        "headline": "Structural engineer, happy to help early-career members",
        "bio": "Twenty years in bridges.",
        "expertise": first["expertise"], "sectors": first["sectors"],
        "career_stage": "senior", "years_experience": 20, "qualifications": first["qualifications"],
        "languages": ["en"], "interaction_modes": ["video", "email"],
        "location": {"country": "GB", "region": first["regions"][0]},
    }
    put = client.put("/v1/members/me/mentor-profile", headers=mentor, json=profile)
    assert put.status_code in (200, 201), put.text

    def propose() -> httpx.Response | None:
        response = client.post("/v1/proposals", headers=mentee, json={
            "mentor_id": "M1", "message": "Would you mentor me?", "areas": first["expertise"],
            "goals": "Chartership", "interaction_modes": ["video"], "duration_months": 6})
        # Relationships learns about the new mentor from matching's event (projector): a
        # moment of "not a mentor yet" is the distributed shape's eventual consistency.
        if response.status_code == 409 and response.json().get("why") == "not_a_mentor":
            return None
        return response

    proposal = eventually(propose, 60, "relationships knows the new mentor")
    assert proposal.status_code == 201, proposal.text
    if "notifier" not in state["processes"]:
        return
    mail_dir = folder / "var" / "mail"

    def mail_to(address: str) -> Callable[[], list[Path]]:
        def received() -> list[Path]:
            return [path for path in mail_dir.glob("*.eml")
                    if address in {addr for _, addr in getaddresses(
                        message_from_bytes(path.read_bytes()).get_all("To", []))}]
        return received

    eventually(mail_to("ada@example.org"), 60, "the mentor's proposal email in var/mail")

    # `connect sweep --at` with the stack's settings acts on the stack: 22 days on, the
    # proposal has expired and the mentee hears about it.
    later = (datetime.now(timezone.utc) + timedelta(days=22)).strftime("%Y-%m-%dT%H:%M:%SZ")
    swept = subprocess.run(CONNECT + ["sweep", "--at", later], cwd=folder.parent, env=stack_env,
                           capture_output=True, text=True, timeout=120)
    assert swept.returncode == 0, swept.stderr[-4000:]
    assert client.get("/v1/relationships", headers=mentee).json()["items"][0]["status"] == "expired"
    eventually(mail_to("grace@example.org"), 60, "the mentee's expiry email in var/mail")
