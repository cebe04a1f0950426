"""Relationships benchmark: one timer sweep over 1,000,000 pending proposals (10,000 due)
on PostgreSQL, and the latency of creating a proposal in-process.

    python -m bench.relationships                      # launches a private PostgreSQL
    python -m bench.relationships --postgres-url postgresql+psycopg://user@host:5432/postgres
    python -m bench.relationships --proposals 100000 --due 1000   # a quicker run

The database is created fresh (`bench_relationships_<pid>`) and dropped afterwards.
Seeding uses set-based SQL (generate_series) and is not part of the measured
figures.  Results go to bench/results/relationships.json with the machine they
ran on.  Targets: sweep < 5 s; the create p95 has no target, it is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench._common import machine, percentile
from connect.auth import Member
from connect.clock import MovableClock
from connect.db import Database
from services.relationships.adapters.suggestions import ProjectionSuggestions
from services.relationships.proposals.domain import ProposalContent
from services.relationships.services import RelationshipsService

MIGRATIONS = Path(__file__).resolve().parents[1] / "services" / "relationships" / "migrations"
RESULTS = Path(__file__).resolve().parent / "results" / "relationships.json"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
MENTORS = 5000

# Due proposals come in four equal groups: each has exactly one timer due now.
#   age 3d+1h  (no reminder yet)       -> day-3 reminder
#   age 7d+1h  (day 3 sent)            -> day-7 reminder
#   age 15d+1h (days 3, 7 sent)        -> day-15 reminder
#   age 21d+1h (days 3, 7, 15 sent)    -> expiry
SEED_SQL = """
insert into relationships_relationships
    (id, mentor_id, mentee_id, status, created_at, updated_at, accepted_at, withdrawn_by, proposal_version,
     cycle, cycle_started_at, next_timer_at)
select md5('rel' || i)::uuid::text, 'mentor-' || (i % :mentors), 'mentee-' || i, 'pending', s.started, s.started,
       null, null, 1, 1, s.started,
       s.started + make_interval(days => case when i > :due then 3
                                              when i % 4 = 0 then 3 when i % 4 = 1 then 7
                                              when i % 4 = 2 then 15 else 21 end)
from generate_series(1, :total) as i,
lateral (select case when i > :due then :now - make_interval(secs => (i % 250000))
                     else :now - make_interval(days => case when i % 4 = 0 then 3 when i % 4 = 1 then 7
                                                            when i % 4 = 2 then 15 else 21 end, hours => 1)
                end as started) as s
"""
VERSIONS_SQL = """
insert into relationships_proposal_versions
    (relationship_id, version, message, areas, goals, interaction_modes, duration_months, author_id, created_at)
select r.id, 1, 'Would you mentor me?', '["career_planning", "raising_profile"]', 'Grow', '["video"]', 6,
       r.mentee_id, r.created_at
from relationships_relationships r
"""
HISTORY_SQL = """
insert into relationships_status_history (relationship_id, action, from_status, to_status, actor_id, actor_role, at)
select r.id, 'propose', null, 'pending', r.mentee_id, 'mentee', r.created_at from relationships_relationships r
"""
REMINDERS_SQL = """
insert into relationships_reminders (relationship_id, cycle, day, sent, at)
select md5('rel' || i)::uuid::text, 1, d.day, true, :now
from generate_series(1, :due) as i
join (values (3, 1), (3, 2), (7, 2), (3, 3), (7, 3), (15, 3)) as d(day, grp) on d.grp = i % 4
"""


def seed(database: Database, total: int, due: int) -> float:
    began = time.perf_counter()
    params = {"total": total, "due": due, "mentors": MENTORS, "now": NOW}
    with database.engine.begin() as conn:
        # Bulk load first, indexes are kept (the sweep must work with them as in production).
        conn.execute(text(SEED_SQL), params)
        conn.execute(text(VERSIONS_SQL))
        conn.execute(text(HISTORY_SQL))
        conn.execute(text(REMINDERS_SQL), params)
        conn.execute(text(
            "insert into relationships_members "
            "(member_id, name, email, is_mentor, available, active, expertise, updated_at) "
            "select 'mentor-' || i, 'Mentor ' || i, null, true, true, true, '[\"career_planning\"]', :now "
            "from generate_series(0, :m - 1) i"),
            {"now": NOW, "m": MENTORS})
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("vacuum analyze"))
    return time.perf_counter() - began


def measure_sweep(database: Database, due: int) -> dict[str, Any]:
    # Alternatives for the expiries come from the member projection (what the service falls back
    # to when matching is down); matching's own latency is not part of this figure.
    service = RelationshipsService(database, MovableClock(NOW), suggestions=ProjectionSuggestions(database))
    with database.engine.connect() as conn:
        plan = "\n".join(r[0] for r in conn.execute(text(
            "explain select id from relationships_relationships where status = 'pending' "
            "and next_timer_at <= :now order by next_timer_at limit 500"), {"now": NOW}))
    began = time.perf_counter()
    report = service.send_due_reminders(NOW, batch_size=1000)
    seconds = time.perf_counter() - began
    with database.engine.connect() as conn:
        outbox = conn.execute(text("select count(*) from relationships_outbox")).scalar_one()
        still_due = conn.execute(text("select count(*) from relationships_relationships where status = 'pending' "
                                      "and next_timer_at <= :now"), {"now": NOW}).scalar_one()
    with database.engine.connect() as conn:
        offered = conn.execute(text("select payload from relationships_outbox where type = 'ProposalExpired' "
                                    "limit 1")).scalar_one()
    assert json.loads(offered)["data"]["alternatives"], "expiries offered no alternatives"
    acted = sum(report.reminders.values()) + report.expired
    assert acted == due and outbox == due and still_due == 0, (report.as_dict(), outbox, still_due)
    began = time.perf_counter()
    again = service.send_due_reminders(NOW, batch_size=1000)
    idle_seconds = time.perf_counter() - began
    assert again.batches == 0
    return {"seconds": round(seconds, 3), "target_seconds": 5.0, "met": seconds < 5.0, "report": report.as_dict(),
            "events_written": outbox, "second_run_seconds_nothing_due": round(idle_seconds, 4),
            "query_plan": plan}


def measure_create_service(database: Database, count: int) -> dict[str, Any]:
    """Through the service facade on the same (1M-row) PostgreSQL database."""
    service = RelationshipsService(database, MovableClock(NOW))
    content = ProposalContent("Would you mentor me?", ("career_planning",), "Grow", ("video",), 6)
    samples = []
    for n in range(count):
        member = Member(id=f"bench-mentee-{n}", name="Bench", email="")
        began = time.perf_counter()
        service.proposals.propose(member, f"mentor-{n % MENTORS}", content)
        samples.append((time.perf_counter() - began) * 1000)
    return _latency(samples)


def measure_create_http(count: int) -> dict[str, Any]:
    """POST /v1/proposals through the whole FastAPI app in-process (embedded shape: SQLite)."""
    from fastapi.testclient import TestClient

    from connect.bootstrap import build_container
    from connect.settings import Settings
    from connect.web import create_app
    from schemas.events import MentorProfileChanged

    with tempfile.TemporaryDirectory() as folder:
        container = build_container(Settings(var_dir=Path(folder)), clock=MovableClock(NOW))
        container.upgrade_databases()
        for n in range(50):
            container.service("relationships").members.project(MentorProfileChanged(member_id=f"mentor-{n}",
                                                                                    available=True))
        assert container.dev_issuer is not None
        tokens = [container.dev_issuer.mint(f"bench-mentee-{n}", "Bench Mentee", "b@example.org",
                                            now=time.time()) for n in range(count)]
        samples = []
        with TestClient(create_app(container)) as client:
            for n, token in enumerate(tokens):
                body = {"mentor_id": f"mentor-{n % 50}", "message": "Would you mentor me?",
                        "areas": ["career_planning"], "goals": "Grow", "interaction_modes": ["video"],
                        "duration_months": 6}
                began = time.perf_counter()
                answer = client.post("/v1/proposals", json=body, headers={"Authorization": f"Bearer {token}",
                                                                           "Idempotency-Key": f"k{n}"})
                samples.append((time.perf_counter() - began) * 1000)
                assert answer.status_code == 201, answer.text
        container.close()
    return _latency(samples)


def _latency(samples: list[float]) -> dict[str, Any]:
    return {"count": len(samples), "p50_ms": round(percentile(samples, 50), 2),
            "p95_ms": round(percentile(samples, 95), 2), "p99_ms": round(percentile(samples, 99), 2),
            "max_ms": round(max(samples), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres-url", default=os.environ.get("CONNECT_BENCH_POSTGRES_URL"),
                        help="server to use (a database is created on it); default: launch one")
    parser.add_argument("--proposals", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--creates", type=int, default=500)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    host = machine()  # before any work: the load average says how busy the machine already was

    from stack.engines.postgres import PostgresEngine, create_database, drop_database

    engine = None
    url = args.postgres_url
    server = "given"
    if not url:
        engine = PostgresEngine().start()
        url = engine.url
        server = "launched by stack.engines (fsync off, as for tests)"
    name = f"bench_relationships_{os.getpid()}"
    database = Database(create_database(url, name), "relationships")
    try:
        database.upgrade(MIGRATIONS)
        with database.engine.connect() as conn:
            version = conn.execute(text("show server_version")).scalar_one()
        print(f"seeding {args.proposals} pending proposals ({args.due} due) ...", flush=True)
        seed_seconds = seed(database, args.proposals, args.due)
        print(f"seeded in {seed_seconds:.1f} s; sweeping ...", flush=True)
        sweep = measure_sweep(database, args.due)
        print(f"sweep: {sweep['seconds']} s for {args.due} due ({sweep['report']})", flush=True)
        create_pg = measure_create_service(database, args.creates)
        print(f"create via service on PostgreSQL: {create_pg}", flush=True)
    finally:
        database.dispose()
        drop_database(url, name)
        if engine is not None:
            engine.stop()
    create_http = measure_create_http(args.creates)
    print(f"create via HTTP in-process (embedded SQLite): {create_http}", flush=True)
    results = {
        "benchmark": "relationships",
        "command": "python -m bench.relationships",
        "ran_at": datetime.now(timezone.utc).isoformat(),
        "machine": {**host, "load_average_at_end": os.getloadavg()},
        "postgres": {"version": version, "server": server},
        "proposals": args.proposals, "due": args.due, "seed_seconds": round(seed_seconds, 1),
        "sweep": sweep,
        "create_proposal_service_postgres": create_pg,
        "create_proposal_http_in_process_sqlite": create_http,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {args.output}")


if __name__ == "__main__":
    main()
