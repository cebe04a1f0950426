"""Matching use cases: profiles, availability, search, and keeping the index derived from them."""

from __future__ import annotations

import functools
import logging
import statistics
import threading
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from connect.auth import Member, RecentlyConfirmed
from connect.clock import Clock, utc
from connect.db import Database
from connect.etags import check_if_match, content_tag
from connect.outbox import Outbox
from schemas import taxonomy
from schemas.events import (MemberDetailsChanged, MenteeProfileChanged, MentorAvailabilityChanged,
                            MentorProfileChanged)
from services.matching.adapters import orm
from services.matching.adapters.embedding_cache import PassageVectors
from services.matching.adapters.repository import (MatchingReads, MatchingUnitOfWork, examples_of_each_kind,
                                                   is_active, mentee_goals, open_relationships_of,
                                                   searcher_profiles)
from services.matching.domain import meaning
from services.matching.domain.connections import connections, member_facts
from services.matching.domain.profiles import (AVAILABILITY_MESSAGE, DeletedAccount, MenteeProfile, MentorProfile,
                                               ProfileNotFound, index_document, load_level)
from services.matching.domain.search import MAX_TEXT_LENGTH, Meaning, SearchQuery, build_search
from services.matching.interfaces import Embedder, SearchIndex

log = logging.getLogger(__name__)

STALE_PROFILE = "The profile changed since you read it (its ETag is not current); reload it and save again."


def profile_tag(kind: str, row: Any) -> str:
    """A profile's entity tag: it changes whenever what the profile holds, its availability or its
    time of change does (profiles keep no version counter)."""
    return content_tag(kind, row.member_id, row.profile, getattr(row, "available", None), utc(row.updated_at))

# Profile fields another service may learn to show two members what they have in common.
CONNECTION_FACTS = ("sectors", "employer", "location", "interests", "qualifications", "languages")


class MatchingService:
    def __init__(self, database: Database, clock: Clock, index: SearchIndex,
                 after_commit: Callable[[], None] | None = None, embedder: Embedder | None = None) -> None:
        self.database = database
        self.clock = clock
        self.index = index
        self.embedder = embedder
        self.passage_vectors = PassageVectors(database, embedder, clock) if embedder is not None else None
        self.outbox = Outbox(orm.outbox, producer="matching")
        self.after_commit = after_commit
        # Remembers what was last written so an unchanged caller costs no write.
        self._known: dict[str, tuple[str, str]] = {}
        self._known_lock = threading.Lock()
        # Account deletion is final: an id found inactive is never looked up again.
        self._inactive: set[str] = set()
        self._active = RecentlyConfirmed()

    @functools.cached_property
    def embeds(self) -> bool:
        """The index keeps profile vectors (every engine, when a model is configured).  Asked on
        first use: a deferred index (bootstrap) opens, and its model loads, only when needed."""
        return self.passage_vectors is not None and bool(getattr(self.index, "holds_vectors", False))

    def uow(self) -> MatchingUnitOfWork:
        return MatchingUnitOfWork(self.database, self.outbox, self.clock, self.after_commit)

    def reads(self) -> MatchingReads:
        """The unit of work's repositories for reading only, holding no write lock."""
        return MatchingReads(self.database)

    # --- member directory ----------------------------------------------------------

    def refuse_inactive(self, member: Member) -> None:
        """Authenticator hook, before `member_seen`: the token of a member whose account was deleted
        (AccountDeleted or MemberErased consumed) is refused, and never records them again."""
        if member.id not in self._inactive:
            with self.database.read_connection() as conn:
                active = is_active(conn, member.id)
            if active is not False:
                self._active.add(member.id)
                return
            self._inactive.add(member.id)
        raise DeletedAccount("This account was deleted; it can no longer use Connect.")

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
            row = uow.members.get(member.id, for_update=True)
            now = self.clock.now()
            if row is None:
                uow.members.add(member.id, member.name, member.email, now)
            elif (row.name, row.email) != details:
                uow.members.change(member.id, now, name=member.name, email=member.email)
                # The index shows the name: let a rebuild know this mentor changed.
                uow.profiles.touch_mentor(member.id, now)
            if row is None or (row.name, row.email) != details:
                uow.record(MemberDetailsChanged(member_id=member.id, name=member.name, email=member.email))
            uow.commit()
        with self._known_lock:
            self._known[member.id] = details

    def get_member(self, member_id: str) -> dict | None:
        with self.uow() as uow:
            row = uow.members.get(member_id)
            return dict(row._mapping) if row else None

    def knows_details(self, member: Member) -> bool:
        """Settles `member_seen` from memory: the directory already holds this name and email."""
        return self._known.get(member.id) == (member.name, member.email)

    def mark_inactive(self, member_id: str) -> None:
        """The member deleted their account: out of search, 404 on their profile page."""
        with self.uow() as uow:
            now = self.clock.now()
            uow.members.change(member_id, now, active=False)
            uow.profiles.touch_mentor(member_id, now)
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
            uow.zero_freed_space()
            uow.members.change(member_id, self.clock.now(), name="Erased member", email="", active=False)
            mentored = uow.profiles.delete_all_of(member_id)
            uow.forget_sent([member_id])
            uow.commit()
        self._forget(member_id)
        self.database.expunge_erased()
        return mentored

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
        with self.uow() as uow:
            profiles = uow.profiles.profiles_of(member_id)
        return [{key: profile[key] for key in CONNECTION_FACTS if profile.get(key)} for profile in profiles if profile]

    def sign_in_examples(self, per_kind: int = 4) -> list[dict[str, Any]]:
        """A few active members of each kind (both profiles, mentor only, mentee only) for the
        development sign-in page, with which profiles they hold."""
        with self.database.read_connection() as conn:
            return [{"member_id": row.member_id, "name": row.name, "email": row.email, "holds": holds}
                    for holds, row in examples_of_each_kind(conn, per_kind)]

    # --- taxonomy and profiles --------------------------------------------------------

    @staticmethod
    def taxonomy() -> dict[str, list[dict[str, str]]]:
        return taxonomy.as_json()

    def put_mentor_profile(self, member_id: str, profile: MentorProfile, if_match: str | None = None) -> dict[str, Any]:
        """Create or replace; with `if_match`, only when it names the profile's current tag."""
        profile.validate()
        with self.uow() as uow:
            member = self._member_row(uow, member_id)
            row = uow.profiles.mentor(member_id, for_update=True)
            check_if_match(if_match, profile_tag("mentor", row) if row else None, STALE_PROFILE)
            now = self.clock.now()
            if row is None:
                available = True
                uow.profiles.add_mentor(member_id, profile.to_dict(), now)
            else:
                available = row.available
                uow.profiles.change_mentor(member_id, now, profile=profile.to_dict())
            uow.record(MentorProfileChanged(
                member_id=member_id, available=available, expertise=list(profile.expertise),
                name=member.name, headline=profile.headline, active=member.active))
            uow.commit()
        return self.get_mentor_profile(member_id)

    def account(self, member_id: str) -> dict[str, Any]:
        """What 'Edit Account' shows beside the token's name and email: the profiles the member
        holds and, when their mentor profile is switched off, the FAQ's unavailability message."""
        with self.uow() as uow:
            mentor = uow.profiles.mentor(member_id)
            mentee = uow.profiles.mentee(member_id)
        view: dict[str, Any] = {"profiles": [kind for kind, row in (("mentor", mentor), ("mentee", mentee)) if row],
                                "available": mentor.available if mentor else None}
        if mentor is not None and not mentor.available:
            view["availability_message"] = AVAILABILITY_MESSAGE
        return view

    def get_mentor_profile(self, member_id: str) -> dict[str, Any]:
        with self.uow() as uow:
            row = uow.profiles.mentor_with_member(member_id)
        if row is None:
            raise ProfileNotFound("You have no mentor profile yet.")
        view = {"member_id": member_id, "name": row.name, "email": row.email, **row.profile,
                "available": row.available, "updated_at": utc(row.updated_at), "etag": profile_tag("mentor", row)}
        if not row.available:
            view["availability_message"] = AVAILABILITY_MESSAGE
        return view

    def set_availability(self, member_id: str, available: bool, if_match: str | None = None) -> dict[str, Any]:
        with self.uow() as uow:
            member = self._member_row(uow, member_id)
            row = uow.profiles.mentor(member_id, for_update=True)
            if row is None:
                raise ProfileNotFound("You have no mentor profile yet; create one first.")
            check_if_match(if_match, profile_tag("mentor", row), STALE_PROFILE)
            if row.available != available:
                uow.profiles.change_mentor(member_id, self.clock.now(), available=available)
                uow.record(MentorAvailabilityChanged(member_id=member_id, available=available,
                                                     active=member.active, name=member.name))
            uow.commit()
        return self.get_mentor_profile(member_id)

    def put_mentee_profile(self, member_id: str, profile: MenteeProfile, if_match: str | None = None) -> dict[str, Any]:
        """Create or replace; with `if_match`, only when it names the profile's current tag."""
        profile.validate()
        with self.uow() as uow:
            self._member_row(uow, member_id)
            now = self.clock.now()
            row = uow.profiles.mentee(member_id, for_update=True)
            check_if_match(if_match, profile_tag("mentee", row) if row else None, STALE_PROFILE)
            if row is None:
                uow.profiles.add_mentee(member_id, profile.to_dict(), now)
            else:
                uow.profiles.change_mentee(member_id, profile.to_dict(), now)
            uow.record(MenteeProfileChanged(member_id=member_id, areas_sought=list(profile.areas_sought)))
            uow.commit()
        return self.get_mentee_profile(member_id)

    def get_mentee_profile(self, member_id: str) -> dict[str, Any]:
        with self.uow() as uow:
            row = uow.profiles.mentee_with_member(member_id)
        if row is None:
            raise ProfileNotFound("You have no mentee profile yet.")
        return {"member_id": member_id, "name": row.name, "email": row.email, **row.profile,
                "updated_at": utc(row.updated_at), "etag": profile_tag("mentee", row)}

    def public_mentor(self, member_id: str, viewer_id: str | None = None) -> dict[str, Any]:
        """A mentor's profile page: public fields, availability, response figures and whether the
        viewer is already in touch with them (`relationship`: the open one, and the viewer's role
        in it); inactive is 404."""
        with self.uow() as uow:
            row = uow.profiles.mentor_with_member(member_id)
            if row is None or not row.active:
                raise ProfileNotFound("No such mentor.")
            stats = self._mentor_stats(uow.relationships.of_mentor(member_id))
            open_one = uow.relationships.open_between(viewer_id, member_id) if viewer_id else None
        relationship = None if open_one is None else {
            "relationship_id": open_one.relationship_id, "status": open_one.status,
            "my_role": "mentor" if open_one.mentor_id == viewer_id else "mentee"}
        return {"member_id": member_id, "name": row.name, **row.profile, "available": row.available,
                "stats": stats, "relationship": relationship}

    @staticmethod
    def _mentor_stats(rows: Sequence[Any]) -> dict[str, Any]:
        answered = [r for r in rows if r.answered_at is not None]
        hours = [(utc(r.answered_at) - utc(r.proposed_at)).total_seconds() / 3600 for r in answered]
        return {
            "proposals_received": len(rows),
            "response_rate": round(100 * len(answered) / len(rows)) if rows else None,
            "median_response_hours": round(statistics.median(hours), 1) if hours else None,
            "active_mentees": sum(1 for r in rows if r.status == "accepted"),
            "pending_proposals": sum(1 for r in rows if r.status == "pending"),
        }

    @staticmethod
    def _member_row(uow: MatchingUnitOfWork, member_id: str) -> Any:
        member = uow.members.get(member_id)
        if member is None:
            raise ProfileNotFound("Unknown member.")
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
            existing = uow.members.known(m[0] for m in batch)
            for member_id, name, email, mentor, mentee in batch:
                if member_id in existing:
                    continue
                uow.members.add(member_id, name, email, now)
                uow.record(MemberDetailsChanged(member_id=member_id, name=name, email=email))
                if mentor is not None:
                    mentor.validate()
                    uow.profiles.add_mentor(member_id, mentor.to_dict(), now)
                    uow.record(MentorProfileChanged(member_id=member_id, available=True,
                                                    expertise=list(mentor.expertise), name=name,
                                                    headline=mentor.headline, active=True))
                if mentee is not None:
                    mentee.validate()
                    uow.profiles.add_mentee(member_id, mentee.to_dict(), now)
                    uow.record(MenteeProfileChanged(member_id=member_id, areas_sought=list(mentee.areas_sought)))
                created += 1
            uow.commit()
        return created

    # --- search --------------------------------------------------------------------------

    @property
    def searches_in_process(self) -> bool:
        """True when a search only computes here: the embedded index and a local SQLite file."""
        return self.index.in_process and self.database.is_sqlite

    def search_query(self, searcher_id: str | None, *, text: str | None = None,
                     criteria: dict[str, Any] | None = None, weights: dict[str, Any] | None = None,
                     filters: dict[str, Any] | None = None, size: int = 20) -> SearchQuery:
        """The searcher's first page as a query, with the need read from the text or their goals
        (raises InvalidSearch with field paths); the API continues it from a sealed cursor."""
        return build_search(text=text, criteria=criteria, weights=weights, filters=filters, size=size,
                            searcher_id=searcher_id, meaning=self.need(text, searcher_id))

    def search(self, searcher_id: str, **request: Any) -> dict[str, Any]:
        """The first page of a search (benchmarks, tests; the API pages with sealed cursors)."""
        return self.run_search(self.search_query(searcher_id, **request), searcher_id)

    def need(self, text: str | None, searcher_id: str | None) -> Meaning | None:
        """The need as a vector: the search text when it has any letters or digits, else the goals
        of the searcher's mentee profile; None without either (criteria only, as before)."""
        if not self.embeds or self.embedder is None:
            return None
        source = "text"
        if not meaning.has_meaning(text):
            source, text = "mentee_goals", None
            if searcher_id is not None:
                with self.database.read_connection() as conn:
                    text = mentee_goals(conn, searcher_id)
        if not meaning.has_meaning(text) or len(text or "") > MAX_TEXT_LENGTH and source == "text":
            return None  # too long a text is refused by build_search, before anything is embedded
        vector = meaning.quantise(self.embedder.embed([text or ""]))[0]
        return Meaning(vector=vector, source=source, model_id=self.embedder.model_id)

    def run_search(self, query: SearchQuery, searcher_id: str | None) -> dict[str, Any]:
        """One page of results; `next_cursor` is the domain's `Cursor` (the API seals it)."""
        page = self.index.search(query)
        mentor_ids = [hit.member_id for hit in page.hits]
        searcher_doc: dict[str, Any] = {}
        open_with: dict[str, dict[str, str]] = {}
        if searcher_id is not None and mentor_ids:
            # Reads only: a read connection does not queue behind the relays for SQLite's write lock.
            with self.database.read_connection() as conn:
                searcher_doc = member_facts(searcher_profiles(conn, searcher_id))
                on_page = set(mentor_ids)
                for row in open_relationships_of(conn, searcher_id):
                    if row.mentor_id in on_page:
                        open_with[row.mentor_id] = {"relationship_id": row.relationship_id, "status": row.status}
        explained = self._explain(query, page.hits)
        results = []
        for hit in page.hits:
            matched = query.matched(hit.doc)
            results.append({
                "mentor": {"member_id": hit.member_id, "name": hit.doc.get("name", ""), **hit.doc["profile"]},
                "score": round(hit.score, 4),
                "match_percent": query.match_percent(matched, hit.score, int(hit.doc.get("load_level") or 0)),
                "matched": matched,
                "matched_text": explained.get(hit.member_id),
                "connections": connections(searcher_doc, hit.doc) if searcher_doc else [],
                "relationship": open_with.get(hit.member_id),
            })
        return {"results": results, "total": page.total, "next_cursor": page.next_cursor,
                "need": query.meaning.source if query.meaning is not None else None}

    def _explain(self, query: SearchQuery, hits: list[Any]) -> dict[str, dict[str, Any]]:
        """Per mentor on the page: the passage of their profile closest to the need (from the
        passage vectors the indexer cached), when one reaches the similarity floor."""
        if query.meaning is None or not hits or self.passage_vectors is None:
            return {}
        texts = {hit.member_id: meaning.doc_passages(hit.doc) for hit in hits}
        vectors = self.passage_vectors.remembered([t for ts in texts.values() for t in ts])
        out = {}
        for member_id, passages in texts.items():
            if not passages:
                continue
            best = meaning.closest(passages, np.stack([vectors[t] for t in passages]), query.meaning.vector)
            if best is not None:
                out[member_id] = {"sentence": best[0], "similarity": round(best[1], 3)}
        return out

    def compare_members(self, member_id: str, other_id: str) -> list[dict[str, Any]]:
        """What two members share (their profiles, each side's mentee and mentor merged): the
        same comparison as a search result's `connections`."""
        with self.database.read_connection() as conn:
            return connections(member_facts(searcher_profiles(conn, member_id)),
                               member_facts(searcher_profiles(conn, other_id)))

    def suggest_mentors(self, areas: list[str], exclude: list[str], limit: int = 3) -> list[dict[str, str]]:
        """Available, active mentors matching the same areas (for an expired proposal's email)."""
        known = [a for a in areas if a in taxonomy.ids("expertise")]
        if areas and not known:
            return []
        query = build_search(criteria={"expertise": known} if known else None, exclude_ids=exclude,
                             size=max(1, min(limit, 20)))
        page = self.index.search(query)
        return [{"member_id": h.member_id, "name": h.doc.get("name", ""), "headline": h.doc.get("headline", ""),
                 "expertise": list(h.doc.get("expertise") or [])} for h in page.hits]

    # --- the index, derived from the database ----------------------------------------------

    @staticmethod
    def _listed_docs(uow: MatchingUnitOfWork | MatchingReads, member_ids: list[str] | None = None,
                     changed_since: datetime | None = None) -> Iterator[tuple[str, dict[str, Any] | None]]:
        """(member_id, index document or None when the mentor must not be listed)."""
        rows = uow.profiles.listed_rows(member_ids, changed_since)
        loads = uow.relationships.open_counts([r.member_id for r in rows] if member_ids is not None else None)
        for row in rows:
            if not (row.available and row.active):
                yield row.member_id, None
                continue
            pending, active = loads.get(row.member_id, (0, 0))
            yield row.member_id, index_document(row.member_id, row.name, MentorProfile.from_dict(row.profile),
                                                load_level(pending, active))

    def listed_documents(self) -> list[tuple[str, dict[str, Any] | None]]:
        """Every mentor's (member_id, index document or None when not listed), as a rebuild reads them."""
        with self.uow() as uow:
            return list(self._listed_docs(uow))

    def with_vectors(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The documents with their profile vector (`doc["vector"]`, int8), when the index keeps
        vectors: each passage is embedded once ever (cached by text hash), off the request path."""
        if not self.embeds or not docs:
            return docs
        assert self.passage_vectors is not None
        return meaning.attach_vectors(docs, self.passage_vectors.vectors)

    def refresh_index(self, member_ids: list[str]) -> None:
        """Bring these mentors' index entries in line with the database (listed or removed)."""
        with self.uow() as uow:
            found = dict(self._listed_docs(uow, member_ids=member_ids))
        self.index.upsert(self.with_vectors([doc for doc in found.values() if doc is not None]))
        self.index.delete(mid for mid in member_ids if found.get(mid) is None)

    def catch_up_index(self, since: datetime) -> None:
        """Re-apply every mentor changed since `since` (after an alias swap)."""
        with self.uow() as uow:
            found = list(self._listed_docs(uow, changed_since=since))
        self.index.upsert(self.with_vectors([doc for _mid, doc in found if doc is not None]))
        self.index.delete(mid for mid, doc in found if doc is None)

    def count_mentors(self) -> int:
        with self.uow() as uow:
            return uow.profiles.count_mentors()

    def reindex(self, progress: Callable[[int], None] | None = None, batch: int = 500) -> tuple[str, int]:
        """Build a new index version from the database, then swap the alias to it.  Passages not
        embedded before are embedded here (the rest come from the cache); afterwards the cache
        drops what no listed profile uses any more."""
        started_at = self.clock.now()
        build = self.index.begin_build()
        added = 0
        used: set[bytes] = set()

        def add(docs: list[dict[str, Any]], rows: int) -> int:
            self.with_vectors(docs)
            used.update(meaning.text_hash(t) for d in docs for t in meaning.doc_passages(d))
            count = build.add(docs)
            if progress is not None:
                progress(rows)
            return count

        try:
            # Reads only: embedding stores passage vectors meanwhile, which SQLite's write lock
            # (taken by a unit of work) would block.
            with self.reads() as reads:
                chunk: list[dict[str, Any]] = []
                rows = 0
                for _mid, doc in self._listed_docs(reads):
                    rows += 1
                    if doc is not None:
                        chunk.append(doc)
                    if len(chunk) >= batch:
                        added += add(chunk, rows)
                        chunk, rows = [], 0
                added += add(chunk, rows)
            # What changed while we read goes into the new index before it goes live (read
            # afresh: on SQLite the connection above kept the snapshot of its first read).
            with self.reads() as reads:
                late = list(self._listed_docs(reads, changed_since=started_at))
            build.add(self.with_vectors([doc for _mid, doc in late if doc is not None]))
            build.delete(mid for mid, doc in late if doc is None)
            build.swap(started_at)
        except BaseException:
            build.abort()
            raise
        if self.embeds and self.passage_vectors is not None:
            dropped = self.passage_vectors.prune(used, before=started_at)
            if dropped:
                log.info("embedding cache: %d vectors no listed profile uses were dropped", dropped)
        return build.name, added

    def rebuild_if_stale(self) -> bool:
        """Rebuild when the live index is not what this release writes: it holds no vectors of
        the configured model (made before meaning existed, or under another model), or its
        cluster stemmed the text itself (`DslSearchIndex.analysis_current`); True when it rebuilt."""
        vectors_current = getattr(self.index, "vectors_current", None)
        analysis_current = getattr(self.index, "analysis_current", None)
        if analysis_current is not None and not analysis_current():
            log.info("the search index was analysed by its cluster, not as every engine is: rebuilding it")
        elif self.embeds and vectors_current is not None and not vectors_current():
            log.info("the search index holds no vectors of %s: rebuilding it",
                     self.embedder.model_id if self.embedder else "")
        else:
            return False
        self.reindex()
        return True

    def ensure_index(self) -> None:
        self.index.ensure()
