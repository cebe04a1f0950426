"""Workspace benchmark: request latency of the busiest workspace calls, through the whole
embedded HTTP stack (auth, hooks, unit of work, outbox) in-process.

    python -m bench.workspace                       # embedded SQLite, then PostgreSQL (launched)
    python -m bench.workspace --relationships 50 --requests 300 --no-postgres
    python -m bench.workspace --postgres-url postgresql+psycopg://user@host:5432/postgres  # a server to use

A mentor with N accepted relationships (each with a meeting and a few messages) is set up
through the API (not measured); then, measured one request at a time:
  post_message        POST /v1/relationships/{id}/messages
  list_messages       GET  /v1/relationships/{id}/messages (marks the page read)
  amend_tool          PUT  /v1/relationships/{id}/tools/swot/{tool_id} with If-Match
  dashboard           GET  /v1/dashboard (20 relationships with unread counts, next meeting, nudge state)
Results (p50/p95 in ms) go to bench/results/workspace.json with the machine they ran on.
There are no targets; the figures are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from fastapi.testclient import TestClient

from connect.bootstrap import build_container
from connect.clock import MovableClock
from connect.events import OutgoingMessage
from connect.settings import Settings
from connect.web import create_app
from schemas.events import MemberDetailsChanged, MentorProfileChanged
from bench._common import percentile

RESULTS = Path(__file__).resolve().parent / "results" / "workspace.json"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def _measure(requests: int, call: Callable[[int], Any]) -> dict[str, float]:
    timings = []
    for n in range(requests):
        started = time.perf_counter()
        response = call(n)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code >= 400:
            raise SystemExit(f"request failed: {response.status_code} {response.text[:300]}")
    return {"p50_ms": round(percentile(timings, 50), 2), "p95_ms": round(percentile(timings, 95), 2),
            "requests": requests}


def run(relationships: int, requests: int, postgres_url: str | None) -> dict[str, Any]:
    folder = tempfile.mkdtemp(prefix="bench-workspace-")
    overrides: dict[str, Any] = {"var_dir": Path(folder)}
    if postgres_url:
        overrides["relationships_database_url"] = postgres_url
    clock = MovableClock(NOW)
    container = build_container(Settings(**overrides), clock=clock)
    container.upgrade_databases()
    issuer = container.dev_issuer
    assert issuer is not None

    def headers(member_id: str) -> dict[str, str]:
        return {"Authorization": "Bearer " + issuer.mint(member_id, f"Member {member_id}",
                                                         f"{member_id.lower()}@example.org")}

    mentor_id = "BENCH-MENTOR"
    mentees = [f"BENCH-MENTEE-{n}" for n in range(relationships)]
    container.transport.publisher().publish([
        OutgoingMessage(e.TOPIC, e.key(), e.envelope(producer="bench", occurred_at=NOW).to_bytes())
        for e in (MemberDetailsChanged(member_id=mentor_id, name="Bench Mentor", email="mentor@example.org"),
                  MentorProfileChanged(member_id=mentor_id, available=True, expertise=["career_planning"]))])
    from tests.conftest import deliver_events

    deliver_events(container, {"projector"})
    mentor = headers(mentor_id)
    with TestClient(create_app(container), raise_server_exceptions=True) as client:
        ids, tools = [], []
        for mentee_id in mentees:
            mentee = headers(mentee_id)
            rel = client.post("/v1/proposals", headers=mentee, json={
                "mentor_id": mentor_id, "message": "Would you mentor me?", "areas": ["career_planning"],
                "goals": "Grow", "interaction_modes": ["video"], "duration_months": 6}).json()
            client.post(f"/v1/relationships/{rel['id']}/accept", headers=mentor)
            url = f"/v1/relationships/{rel['id']}"
            client.post(url + "/meetings", headers=mentee, json={
                "starts_at": (NOW + timedelta(days=7)).isoformat(), "duration_minutes": 60, "mode": "video"})
            for text in ("Hello", "How is it going?", "Let us meet"):
                client.post(url + "/messages", headers=mentee, json={"body": text})
            tools.append(client.post(url + "/tools/swot", headers=mentee, json={"strengths": ["a"]}).json())
            ids.append(rel["id"])

        first = f"/v1/relationships/{ids[0]}"
        etag = {"value": tools[0]["etag"]}

        def amend(n: int) -> Any:
            response = client.put(f"{first}/tools/swot/{tools[0]['id']}", headers={**mentor, "If-Match": etag["value"]},
                                  json={"strengths": [f"strength {n}"]})
            etag["value"] = response.headers.get("etag", etag["value"])
            return response

        figures = {
            "post_message": _measure(requests, lambda n: client.post(first + "/messages", headers=mentor,
                                                                     json={"body": f"Message {n}"})),
            "list_messages": _measure(requests, lambda n: client.get(first + "/messages?limit=20",
                                                                     headers=headers(mentees[0]))),
            "amend_tool": _measure(requests, amend),
            "dashboard": _measure(requests, lambda n: client.get("/v1/dashboard?limit=20", headers=mentor)),
        }
    container.close()
    shutil.rmtree(folder, ignore_errors=True)  # the scratch var/ (SQLite, index, mail)
    return {
        "measured_at": datetime.now(timezone.utc).isoformat(),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "database": "postgresql" if postgres_url else "sqlite",
        "relationships": relationships,
        "figures": figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--relationships", type=int, default=30)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--postgres-url", default=os.environ.get("CONNECT_BENCH_POSTGRES_URL"),
                        help="server to use (a database is created on it); default: launch one")
    parser.add_argument("--no-postgres", action="store_true", help="only the embedded SQLite run")
    args = parser.parse_args()
    runs = [run(args.relationships, args.requests, None)]
    if not args.no_postgres:
        from stack.engines.postgres import PostgresEngine, create_database, drop_database

        engine = None
        server = args.postgres_url
        if not server:
            engine = PostgresEngine().start()
            server = engine.url
        name = f"bench_workspace_{os.getpid()}"
        try:
            runs.append(run(args.relationships, args.requests, create_database(server, name)))
        finally:
            drop_database(server, name)
            if engine is not None:
                engine.stop()
    result = {"benchmark": "workspace", "command": "python -m bench.workspace", "runs": runs}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
