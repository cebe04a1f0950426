"""Matching use cases: profiles, availability, search, and keeping the index derived from them."""

from __future__ import annotations

import logging
import statistics
import threading
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator

from sqlalchemy import bindparam, func, literal_column, select, text, union_all

from connect.auth import Member, RecentlyConfirmed
from connect.clock import Clock, utc
from connect.db import Database
from connect.outbox import Outbox
from connect.problems import Problem
from connect.uow import SqlUnitOfWork
from schemas.events import (MemberDetailsChanged, MenteeProfileChanged, MentorAvailabilityChanged,
                            MentorProfileChanged)
from services.matching.adapters import orm
from schemas import taxonomy
from services.matching.domain.profiles import (AVAILABILITY_MESSAGE, MenteeProfile, MentorProfile, index_document,
                                               load_level, normalise_tag)
from services.matching.domain.search import SearchQuery, build_search, connections
from services.matching.interfaces import SearchIndex

log = logging.getLogger(__name__)

# The reads on every search request's path, built once: building a statement and its cache key
# per request cost about as much as running it on SQLite.
_ACTIVE_OF = select(orm.members.c.active).where(orm.members.c.member_id == bindparam("member_id"))
# A member's mentee and mentor profiles in one statement (each statement costs more than its read).
_PROFILES_OF = union_all(*(select(literal_column(str(rank)).label("rank"), table.c.profile)
                           .where(table.c.member_id == bindparam("member_id"))
                           for rank, table in enumerate((orm.mentee_profiles, orm.mentor_profiles))))
OPEN_STATUSES = ("pending", "accepted")
# All of the searcher's open relationships (a mentee has a handful), matched to the page in
# Python: an IN list of the page's mentors made SQLAlchemy rewrite the statement on every search.
_OPEN_OF = (select(orm.relationships.c.relationship_id, orm.relationships.c.mentor_id, orm.relationships.c.status)
            .where(orm.relationships.c.mentee_id == bindparam("mentee_id"),
                   orm.relationships.c.status.in_(OPEN_STATUSES)))
# Profile fields another service may learn to show two members what they have in common.
CONNECTION_FACTS = ("sectors", "employer", "location", "interests", "qualifications", "languages")


class NotFound(Exception):
    pass


class MatchingService:
    def __init__(self, database: Database, clock: Clock, index: SearchIndex,
                 after_commit: Callable[[], None] | None = None) -> None:
        self.database = database
        self.clock = clock
        self.index = index
        self.outbox = Outbox(orm.outbox, producer="matching")
        self.after_commit = after_commit
        # Remembers what was last written so an unchanged caller costs no write.
        self._known: dict[str, tuple[str, str]] = {}
        self._known_lock = threading.Lock()
        # Account deletion is final: an id found inactive is never looked up again.
        self._inactive: set[str] = set()
        self._active = RecentlyConfirmed()

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.database, self.outbox, self.clock, self.after_commit)

    # --- member directory ----------------------------------------------------------

    def refuse_inactive(self, member: Member) -> None:
        """Authenticator hook, before `member_seen`: the token of a member whose account was deleted
        (AccountDeleted or MemberErased consumed) is refused, and never records them again."""
        if member.id not in self._inactive:
            with self.database.read_connection() as conn:
                active = conn.execute(_ACTIVE_OF, {"member_id": member.id}).scalar()
            if active is not False:
                self._active.add(member.id)
                return
            self._inactive.add(member.id)
        raise Problem(403, "This account was deleted; it can no longer use Connect.", type_="account-deleted")

    def confirmed_active(self, member: Member) -> bool:
        """Settles `refuse_inactive` from memory: a read found them active a moment ago."""
        return member.id in self._active

    def member_seen(self, member: Member) -> None:
        """Refresh the member directory from token claims; publish a change once."""
        details = (member.name, member.email)
        with self._known_lock:
            if self._known.get(member.id) == details:
                return
        with self.uow() as uow:
            row = uow.session.execute(
                select(orm.members).where(orm.members.c.member_id == member.id).with_for_update()
            ).first()
            now = self.clock.now()
            if row is None:
                uow.session.execute(orm.members.insert().values(
                    member_id=member.id, name=member.name, email=member.email, active=True, updated_at=now))
            elif (row.name, row.email) != details:
                uow.session.execute(orm.members.update().where(orm.members.c.member_id == member.id)
                                    .values(name=member.name, email=member.email, updated_at=now))
                # The index shows the name: let a rebuild know this mentor changed.
                uow.session.execute(orm.mentor_profiles.update()
                                    .where(orm.mentor_profiles.c.member_id == member.id).values(changed_at=now))
            if row is None or (row.name, row.email) != details:
                uow.record(MemberDetailsChanged(member_id=member.id, name=member.name, email=member.email))
            uow.commit()
        with self._known_lock:
            self._known[member.id] = details

    def get_member(self, member_id: str) -> dict | None:
        with self.database.session() as session:
            row = session.execute(select(orm.members).where(orm.members.c.member_id == member_id)).first()
            return dict(row._mapping) if row else None

    def knows_details(self, member: Member) -> bool:
        """Settles `member_seen` from memory: the directory already holds this name and email."""
        return self._known.get(member.id) == (member.name, member.email)

    def mark_inactive(self, member_id: str) -> None:
        """The member deleted their account: out of search, 404 on their profile page."""
        with self.uow() as uow:
            now = self.clock.now()
            uow.session.execute(orm.members.update().where(orm.members.c.member_id == member_id)
                                .values(active=False, updated_at=now))
            uow.session.execute(orm.mentor_profiles.update()
                                .where(orm.mentor_profiles.c.member_id == member_id).values(changed_at=now))
            uow.commit()
        self._forget(member_id)

    def _forget(self, member_id: str) -> None:
        """Drop what memory vouched for (standing, directory details): the member's next request
        is checked against the database again."""
        self._active.discard(member_id)
        with self._known_lock:
            self._known.pop(member_id, None)

    def erase_member(self, member_id: str) -> bool:
        """Approved erasure: drop the member's profiles and sent events, anonymise the directory row.
        True when they had a mentor profile, so a document in the search index (see `purge_index`)."""
        with self.uow() as uow:
            if self.database.is_sqlite:
                # Freed and overwritten cells are zeroed, not left readable in the file's free space.
                uow.session.execute(text("PRAGMA secure_delete=ON"))
            now = self.clock.now()
            uow.session.execute(orm.members.update().where(orm.members.c.member_id == member_id)
                                .values(name="Erased member", email="", active=False, updated_at=now))
            mentored = uow.session.execute(
                orm.mentor_profiles.delete().where(orm.mentor_profiles.c.member_id == member_id)).rowcount
            uow.session.execute(orm.mentee_profiles.delete().where(orm.mentee_profiles.c.member_id == member_id))
            # Already relayed, so no consumer needs them any more; unsent rows still must go out.
            uow.session.execute(orm.outbox.delete().where(orm.outbox.c.key == member_id,
                                                          orm.outbox.c.published_at.is_not(None)))
            uow.commit()
        self._forget(member_id)
        self.database.expunge_erased()
        return bool(mentored)

    def purge_index(self) -> None:
        """After an erased mentor's document was deleted: a deleted document keeps its bytes and
        terms (tantivy until its segment is merged, OpenSearch until segments merge), and the
        embedded index keeps the version before the last rebuild.  Two rebuilds from the database
        leave no version that ever held it.  Erasures are rare; a rebuild is the price."""
        self.reindex()
        self.reindex()

    def connection_facts(self, member_id: str) -> list[dict[str, Any]]:
        """The controlled, comparable fields of the member's mentee and mentor profiles (what
        "what you share" compares); never names, emails or free texts."""
        with self.database.session() as session:
            rows = [session.execute(select(table.c.profile).where(table.c.member_id == member_id)).scalar()
                    for table in (orm.mentee_profiles, orm.mentor_profiles)]
        return [{key: profile[key] for key in CONNECTION_FACTS if profile.get(key)} for profile in rows if profile]

    def sign_in_examples(self, per_kind: int = 4) -> list[dict[str, Any]]:
        """A few active members of each kind (both profiles, mentor only, mentee only) for the
        development sign-in page, with which profiles they hold."""
        mentor = select(orm.mentor_profiles.c.member_id).where(
            orm.mentor_profiles.c.member_id == orm.members.c.member_id).exists()
        mentee = select(orm.mentee_profiles.c.member_id).where(
            orm.mentee_profiles.c.member_id == orm.members.c.member_id).exists()
        base = select(orm.members.c.member_id, orm.members.c.name, orm.members.c.email).where(
            orm.members.c.active.is_(True))
        kinds = (("mentor", "mentee"), base.where(mentor, mentee)), (("mentor",), base.where(mentor, ~mentee)), \
            (("mentee",), base.where(~mentor, mentee))
        examples = []
        with self.database.read_connection() as conn:
            for holds, stmt in kinds:
                for row in conn.execute(stmt.order_by(orm.members.c.member_id).limit(per_kind)):
                    examples.append({"member_id": row.member_id, "name": row.name, "email": row.email,
                                     "holds": holds})
        return examples

    # --- taxonomy and profiles --------------------------------------------------------

    @staticmethod
    def taxonomy() -> dict[str, list[dict[str, str]]]:
        return taxonomy.as_json()

    def put_mentor_profile(self, member_id: str, profile: MentorProfile) -> dict[str, Any]:
        profile.validate()
        with self.uow() as uow:
            member = self._member_row(uow.session, member_id)
            row = uow.session.execute(select(orm.mentor_profiles).where(
                orm.mentor_profiles.c.member_id == member_id).with_for_update()).first()
            now = self.clock.now()
            if row is None:
                available = True
                uow.session.execute(orm.mentor_profiles.insert().values(
                    member_id=member_id, profile=profile.to_dict(), available=True,
                    created_at=now, updated_at=now, changed_at=now))
            else:
                available = row.available
                uow.session.execute(orm.mentor_profiles.update()
                                    .where(orm.mentor_profiles.c.member_id == member_id)
                                    .values(profile=profile.to_dict(), updated_at=now, changed_at=now))
            uow.record(MentorProfileChanged(
                member_id=member_id, available=available, expertise=list(profile.expertise),
                name=member.name, headline=profile.headline, active=member.active))
            uow.commit()
        return self.get_mentor_profile(member_id)

    def get_mentor_profile(self, member_id: str) -> dict[str, Any]:
        with self.database.session() as session:
            row = session.execute(select(orm.mentor_profiles, orm.members.c.name, orm.members.c.email)
                                  .join(orm.members, orm.members.c.member_id == orm.mentor_profiles.c.member_id)
                                  .where(orm.mentor_profiles.c.member_id == member_id)).first()
        if row is None:
            raise NotFound("You have no mentor profile yet.")
        view = {"member_id": member_id, "name": row.name, "email": row.email, **row.profile,
                "available": row.available, "updated_at": utc(row.updated_at)}
        if not row.available:
            view["availability_message"] = AVAILABILITY_MESSAGE
        return view

    def set_availability(self, member_id: str, available: bool) -> dict[str, Any]:
        with self.uow() as uow:
            member = self._member_row(uow.session, member_id)
            row = uow.session.execute(select(orm.mentor_profiles.c.available).where(
                orm.mentor_profiles.c.member_id == member_id).with_for_update()).first()
            if row is None:
                raise NotFound("You have no mentor profile yet; create one first.")
            if row.available != available:
                now = self.clock.now()
                uow.session.execute(orm.mentor_profiles.update()
                                    .where(orm.mentor_profiles.c.member_id == member_id)
                                    .values(available=available, updated_at=now, changed_at=now))
                uow.record(MentorAvailabilityChanged(member_id=member_id, available=available,
                                                     active=member.active, name=member.name))
            uow.commit()
        return self.get_mentor_profile(member_id)

    def put_mentee_profile(self, member_id: str, profile: MenteeProfile) -> dict[str, Any]:
        profile.validate()
        with self.uow() as uow:
            self._member_row(uow.session, member_id)
            exists = uow.session.execute(select(orm.mentee_profiles.c.member_id).where(
                orm.mentee_profiles.c.member_id == member_id).with_for_update()).first()
            now = self.clock.now()
            if exists is None:
                uow.session.execute(orm.mentee_profiles.insert().values(
                    member_id=member_id, profile=profile.to_dict(), created_at=now, updated_at=now))
            else:
                uow.session.execute(orm.mentee_profiles.update()
                                    .where(orm.mentee_profiles.c.member_id == member_id)
                                    .values(profile=profile.to_dict(), updated_at=now))
            uow.record(MenteeProfileChanged(member_id=member_id, areas_sought=list(profile.areas_sought)))
            uow.commit()
        return self.get_mentee_profile(member_id)

    def get_mentee_profile(self, member_id: str) -> dict[str, Any]:
        with self.database.session() as session:
            row = session.execute(select(orm.mentee_profiles, orm.members.c.name, orm.members.c.email)
                                  .join(orm.members, orm.members.c.member_id == orm.mentee_profiles.c.member_id)
                                  .where(orm.mentee_profiles.c.member_id == member_id)).first()
        if row is None:
            raise NotFound("You have no mentee profile yet.")
        return {"member_id": member_id, "name": row.name, "email": row.email, **row.profile,
                "updated_at": utc(row.updated_at)}

    def public_mentor(self, member_id: str) -> dict[str, Any]:
        """A mentor's profile page: public fields, availability, response figures; inactive is 404."""
        with self.database.session() as session:
            row = session.execute(select(orm.mentor_profiles, orm.members.c.name, orm.members.c.active)
                                  .join(orm.members, orm.members.c.member_id == orm.mentor_profiles.c.member_id)
                                  .where(orm.mentor_profiles.c.member_id == member_id)).first()
            if row is None or not row.active:
                raise NotFound("No such mentor.")
            stats = self._mentor_stats(session, member_id)
        return {"member_id": member_id, "name": row.name, **row.profile, "available": row.available,
                "stats": stats}

    def _mentor_stats(self, session: Any, member_id: str) -> dict[str, Any]:
        rows = session.execute(select(orm.relationships.c.status, orm.relationships.c.proposed_at,
                                      orm.relationships.c.answered_at)
                               .where(orm.relationships.c.mentor_id == member_id)).all()
        answered = [r for r in rows if r.answered_at is not None]
        hours = [(utc(r.answered_at) - utc(r.proposed_at)).total_seconds() / 3600 for r in answered]
        return {
            "proposals_received": len(rows),
            "response_rate": round(100 * len(answered) / len(rows)) if rows else None,
            "median_response_hours": round(statistics.median(hours), 1) if hours else None,
            "active_mentees": sum(1 for r in rows if r.status == "accepted"),
            "pending_proposals": sum(1 for r in rows if r.status == "pending"),
        }

    def _member_row(self, session: Any, member_id: str) -> Any:
        member = session.execute(select(orm.members).where(orm.members.c.member_id == member_id)).first()
        if member is None:
            raise NotFound("Unknown member.")
        return member

    def import_members(self, members: Iterable[tuple[str, str, str, MentorProfile | None, MenteeProfile | None]]
                       ) -> int:
        """Create members and their profiles in one transaction (demo data); the same events as the API.

        Members that already exist are left alone.  Returns how many were created.
        """
        created = 0
        with self.uow() as uow:
            now = self.clock.now()
            batch = list(members)
            existing = set(uow.session.execute(select(orm.members.c.member_id).where(
                orm.members.c.member_id.in_([m[0] for m in batch]))).scalars())
            for member_id, name, email, mentor, mentee in batch:
                if member_id in existing:
                    continue
                uow.session.execute(orm.members.insert().values(
                    member_id=member_id, name=name, email=email, active=True, updated_at=now))
                uow.record(MemberDetailsChanged(member_id=member_id, name=name, email=email))
                if mentor is not None:
                    mentor.validate()
                    uow.session.execute(orm.mentor_profiles.insert().values(
                        member_id=member_id, profile=mentor.to_dict(), available=True,
                        created_at=now, updated_at=now, changed_at=now))
                    uow.record(MentorProfileChanged(member_id=member_id, available=True,
                                                    expertise=list(mentor.expertise), name=name,
                                                    headline=mentor.headline, active=True))
                if mentee is not None:
                    mentee.validate()
                    uow.session.execute(orm.mentee_profiles.insert().values(
                        member_id=member_id, profile=mentee.to_dict(), created_at=now, updated_at=now))
                    uow.record(MenteeProfileChanged(member_id=member_id, areas_sought=list(mentee.areas_sought)))
                created += 1
            uow.commit()
        return created

    # --- search --------------------------------------------------------------------------

    @property
    def searches_in_process(self) -> bool:
        """True when a search only computes here: the embedded index and a local SQLite file."""
        return self.index.in_process and self.database.is_sqlite

    def search(self, searcher_id: str, *, text: str | None = None, criteria: dict[str, Any] | None = None,
               weights: dict[str, Any] | None = None, filters: dict[str, Any] | None = None,
               size: int = 20, cursor: str | None = None) -> dict[str, Any]:
        query = build_search(text=text, criteria=criteria, weights=weights, filters=filters, size=size,
                             cursor=cursor, searcher_id=searcher_id)
        return self.run_search(query, searcher_id)

    def run_search(self, query: SearchQuery, searcher_id: str | None) -> dict[str, Any]:
        page = self.index.search(query)
        mentor_ids = [hit.member_id for hit in page.hits]
        searcher_doc: dict[str, Any] = {}
        open_with: dict[str, dict[str, str]] = {}
        if searcher_id is not None and mentor_ids:
            # Reads only: a read connection does not queue behind the relays for SQLite's write lock.
            with self.database.read_connection() as conn:
                searcher_doc = self._searcher_doc(conn, searcher_id)
                on_page = set(mentor_ids)
                for rel in conn.execute(_OPEN_OF, {"mentee_id": searcher_id}):
                    if rel.mentor_id in on_page:
                        open_with[rel.mentor_id] = {"relationship_id": rel.relationship_id, "status": rel.status}
        results = []
        for hit in page.hits:
            matched = query.matched(hit.doc)
            results.append({
                "mentor": {"member_id": hit.member_id, "name": hit.doc.get("name", ""), **hit.doc["profile"]},
                "score": round(hit.score, 4),
                "match_percent": query.match_percent(matched, hit.score, int(hit.doc.get("load_level") or 0)),
                "matched": matched,
                "connections": connections(searcher_doc, hit.doc) if searcher_doc else [],
                "relationship": open_with.get(hit.member_id),
            })
        return {"results": results, "total": page.total, "next_cursor": page.next_cursor}

    def _searcher_doc(self, conn: Any, searcher_id: str) -> dict[str, Any]:
        """The searcher's mentee and mentor profiles merged, shaped like an index document."""
        merged: dict[str, list[str]] = {name: [] for name in
                                        ("sectors", "employer", "region", "interests", "qualifications", "languages")}

        def add(name: str, values: Iterable[str]) -> None:
            for value in values:
                if value and value not in merged[name]:
                    merged[name].append(value)

        for _rank, profile in sorted(conn.execute(_PROFILES_OF, {"member_id": searcher_id}).all()):
            add("sectors", profile.get("sectors") or [])
            add("region", [(profile.get("location") or {}).get("region") or ""])
            add("interests", [normalise_tag(i) for i in profile.get("interests") or []])
            add("languages", profile.get("languages") or [])
            add("qualifications", profile.get("qualifications") or [])
            add("employer", [normalise_tag(profile.get("employer") or "")])
        return merged

    def suggest_mentors(self, areas: list[str], exclude: list[str], limit: int = 3) -> list[dict[str, str]]:
        """Available, active mentors matching the same areas (for an expired proposal's email)."""
        known = [a for a in areas if a in taxonomy.ids("expertise")]
        if areas and not known:
            return []
        query = build_search(criteria={"expertise": known} if known else None, exclude_ids=exclude,
                             size=max(1, min(limit, 20)))
        page = self.index.search(query)
        return [{"member_id": h.member_id, "name": h.doc.get("name", ""), "headline": h.doc.get("headline", "")}
                for h in page.hits]

    # --- the index, derived from the database ----------------------------------------------

    def _listed_docs(self, session: Any, member_ids: list[str] | None = None,
                     changed_since: datetime | None = None) -> Iterator[tuple[str, dict[str, Any] | None]]:
        """(member_id, index document or None when the mentor must not be listed)."""
        stmt = (select(orm.mentor_profiles, orm.members.c.name, orm.members.c.active)
                .join(orm.members, orm.members.c.member_id == orm.mentor_profiles.c.member_id))
        if member_ids is not None:
            stmt = stmt.where(orm.mentor_profiles.c.member_id.in_(member_ids))
        if changed_since is not None:
            stmt = stmt.where(orm.mentor_profiles.c.changed_at >= changed_since)
        rows = session.execute(stmt.order_by(orm.mentor_profiles.c.member_id)).all()
        loads = self._loads(session, [r.member_id for r in rows] if member_ids is not None else None)
        for row in rows:
            if not (row.available and row.active):
                yield row.member_id, None
                continue
            pending, active = loads.get(row.member_id, (0, 0))
            yield row.member_id, index_document(row.member_id, row.name, MentorProfile.from_dict(row.profile),
                                                load_level(pending, active))

    def _loads(self, session: Any, mentor_ids: list[str] | None) -> dict[str, tuple[int, int]]:
        stmt = (select(orm.relationships.c.mentor_id, orm.relationships.c.status, func.count())
                .where(orm.relationships.c.status.in_(OPEN_STATUSES))
                .group_by(orm.relationships.c.mentor_id, orm.relationships.c.status))
        if mentor_ids is not None:
            stmt = stmt.where(orm.relationships.c.mentor_id.in_(mentor_ids))
        loads: dict[str, tuple[int, int]] = {}
        for mentor_id, status, count in session.execute(stmt):
            pending, active = loads.get(mentor_id, (0, 0))
            loads[mentor_id] = (pending + count, active) if status == "pending" else (pending, active + count)
        return loads

    def refresh_index(self, member_ids: list[str]) -> None:
        """Bring these mentors' index entries in line with the database (listed or removed)."""
        with self.database.session() as session:
            found = dict(self._listed_docs(session, member_ids=member_ids))
        self.index.upsert(doc for doc in found.values() if doc is not None)
        self.index.delete(mid for mid in member_ids if found.get(mid) is None)

    def catch_up_index(self, since: datetime) -> None:
        """Re-apply every mentor changed since `since` (after an alias swap)."""
        with self.database.session() as session:
            found = list(self._listed_docs(session, changed_since=since))
        self.index.upsert(doc for _mid, doc in found if doc is not None)
        self.index.delete(mid for mid, doc in found if doc is None)

    def count_mentors(self) -> int:
        with self.database.session() as session:
            return session.execute(select(func.count()).select_from(orm.mentor_profiles)).scalar_one()

    def reindex(self, progress: Callable[[int], None] | None = None, batch: int = 2000) -> tuple[str, int]:
        """Build a new index version from the database, then swap the alias to it."""
        started_at = self.clock.now()
        build = self.index.begin_build()
        added = 0
        try:
            with self.database.session() as session:
                chunk: list[dict[str, Any]] = []
                for _mid, doc in self._listed_docs(session):
                    if doc is not None:
                        chunk.append(doc)
                    if len(chunk) >= batch:
                        added += build.add(chunk)
                        chunk = []
                    if progress is not None:
                        progress(1)
                added += build.add(chunk)
                # What changed while we read goes into the new index before it goes live.
                late = list(self._listed_docs(session, changed_since=started_at))
            build.add(doc for _mid, doc in late if doc is not None)
            build.delete(mid for mid, doc in late if doc is None)
            build.swap(started_at)
        except BaseException:
            build.abort()
            raise
        return build.name, added

    def ensure_index(self) -> None:
        self.index.ensure()
