"""The matching service's unit of work and the repositories it hands out.

`uow.members` (the member directory), `uow.profiles` (mentor and mentee
profiles) and `uow.relationships` (the projection of the relationships
service's events) share the unit of work's session, so a change and the events
it records commit together.  Use cases never write SQL; repositories do.

The reads on a search request's path go through a read connection instead
(`searcher_profiles`, `mentee_goals`, `open_relationships_of`, `is_active`):
statements built once, no session bookkeeping, no SQLite write lock.  A rebuild
reads the same repositories through `MatchingReads`, a read connection, so the
embedding cache can store vectors meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, literal_column, select, union_all
from sqlalchemy.orm import Session

from connect.db import Database
from connect.uow import SqlUnitOfWork
from services.matching.adapters import orm

#: Relationship statuses that count as open (a flag in search, load on the mentor).
OPEN_STATUSES = ("pending", "accepted")

# The reads on every search request's path, built once: building a statement and its cache key
# per request cost about as much as running it on SQLite.
_ACTIVE_OF = select(orm.members.c.active).where(orm.members.c.member_id == bindparam("member_id"))
# A member's mentee and mentor profiles in one statement (each statement costs more than its read).
_PROFILES_OF = union_all(*(select(literal_column(str(rank)).label("rank"), table.c.profile)
                           .where(table.c.member_id == bindparam("member_id"))
                           for rank, table in enumerate((orm.mentee_profiles, orm.mentor_profiles))))
_MENTEE_PROFILE_OF = select(orm.mentee_profiles.c.profile).where(
    orm.mentee_profiles.c.member_id == bindparam("member_id"))
# All of the searcher's open relationships (a mentee has a handful), matched to the page in
# Python: an IN list of the page's mentors made SQLAlchemy rewrite the statement on every search.
_OPEN_OF = (select(orm.relationships.c.relationship_id, orm.relationships.c.mentor_id, orm.relationships.c.status)
            .where(orm.relationships.c.mentee_id == bindparam("mentee_id"),
                   orm.relationships.c.status.in_(OPEN_STATUSES)))


def is_active(connection: Connection, member_id: str) -> bool | None:
    """The member's standing in the directory; None when the directory does not know them."""
    return connection.execute(_ACTIVE_OF, {"member_id": member_id}).scalar()


def searcher_profiles(connection: Connection, member_id: str) -> list[dict[str, Any]]:
    """The member's profiles, mentee first, then mentor."""
    return [profile for _rank, profile in sorted(connection.execute(_PROFILES_OF, {"member_id": member_id}).all())]


def mentee_goals(connection: Connection, member_id: str) -> str | None:
    """The goals of the member's mentee profile (None without one)."""
    profile = connection.execute(_MENTEE_PROFILE_OF, {"member_id": member_id}).scalar()
    return (profile or {}).get("goals")


def open_relationships_of(connection: Connection, mentee_id: str) -> Sequence[Any]:
    """(relationship_id, mentor_id, status) of every open relationship of the mentee."""
    return connection.execute(_OPEN_OF, {"mentee_id": mentee_id}).all()


def examples_of_each_kind(connection: Connection, per_kind: int) -> list[tuple[tuple[str, ...], Any]]:
    """Up to `per_kind` active members holding both profiles, a mentor profile only and a mentee
    profile only: (the profiles they hold, their member_id/name/email row)."""
    mentor = select(orm.mentor_profiles.c.member_id).where(
        orm.mentor_profiles.c.member_id == orm.members.c.member_id).exists()
    mentee = select(orm.mentee_profiles.c.member_id).where(
        orm.mentee_profiles.c.member_id == orm.members.c.member_id).exists()
    active = select(orm.members.c.member_id, orm.members.c.name, orm.members.c.email).where(
        orm.members.c.active.is_(True))
    kinds = ((("mentor", "mentee"), active.where(mentor, mentee)), (("mentor",), active.where(mentor, ~mentee)),
             (("mentee",), active.where(~mentor, mentee)))
    return [(holds, row) for holds, statement in kinds
            for row in connection.execute(statement.order_by(orm.members.c.member_id).limit(per_kind))]


class MemberRepository:
    """The member directory: names and emails from the membership system (token claims)."""

    def __init__(self, session: Session | Connection) -> None:
        self.session = session

    def get(self, member_id: str, *, for_update: bool = False) -> Any | None:
        query = select(orm.members).where(orm.members.c.member_id == member_id)
        return self.session.execute(query.with_for_update() if for_update else query).first()

    def known(self, member_ids: Iterable[str]) -> set[str]:
        return set(self.session.execute(select(orm.members.c.member_id)
                                        .where(orm.members.c.member_id.in_(list(member_ids)))).scalars())

    def add(self, member_id: str, name: str, email: str, at: datetime) -> None:
        self.session.execute(orm.members.insert().values(member_id=member_id, name=name, email=email, active=True,
                                                         updated_at=at))

    def change(self, member_id: str, at: datetime, **values: Any) -> None:
        self.session.execute(orm.members.update().where(orm.members.c.member_id == member_id)
                             .values(updated_at=at, **values))


class ProfileRepository:
    """Mentor and mentee profiles (a member may hold both), stored as the domain's dicts."""

    def __init__(self, session: Session | Connection) -> None:
        self.session = session

    # --- mentor profiles -------------------------------------------------------------------
    def mentor(self, member_id: str, *, for_update: bool = False) -> Any | None:
        query = select(orm.mentor_profiles).where(orm.mentor_profiles.c.member_id == member_id)
        return self.session.execute(query.with_for_update() if for_update else query).first()

    def mentor_with_member(self, member_id: str) -> Any | None:
        """The mentor profile with the directory's name, email and standing."""
        return self.session.execute(
            select(orm.mentor_profiles, orm.members.c.name, orm.members.c.email, orm.members.c.active)
            .join(orm.members, orm.members.c.member_id == orm.mentor_profiles.c.member_id)
            .where(orm.mentor_profiles.c.member_id == member_id)).first()

    def add_mentor(self, member_id: str, profile: dict[str, Any], at: datetime) -> None:
        self.session.execute(orm.mentor_profiles.insert().values(
            member_id=member_id, profile=profile, available=True, created_at=at, updated_at=at, changed_at=at))

    def change_mentor(self, member_id: str, at: datetime, **values: Any) -> None:
        """Update the mentor profile; anything changed here may change the mentor's index entry."""
        self.session.execute(orm.mentor_profiles.update().where(orm.mentor_profiles.c.member_id == member_id)
                             .values(updated_at=at, changed_at=at, **values))

    def touch_mentor(self, member_id: str, at: datetime) -> None:
        """Something the index shows of this mentor changed elsewhere (name, standing, load)."""
        self.session.execute(orm.mentor_profiles.update().where(orm.mentor_profiles.c.member_id == member_id)
                             .values(changed_at=at))

    def count_mentors(self) -> int:
        return self.session.execute(select(func.count()).select_from(orm.mentor_profiles)).scalar_one()

    def listed_rows(self, member_ids: list[str] | None = None, changed_since: datetime | None = None
                    ) -> Sequence[Any]:
        """Mentor profiles with name and standing, by member id (what index documents are made of)."""
        query = (select(orm.mentor_profiles, orm.members.c.name, orm.members.c.active)
                 .join(orm.members, orm.members.c.member_id == orm.mentor_profiles.c.member_id))
        if member_ids is not None:
            query = query.where(orm.mentor_profiles.c.member_id.in_(member_ids))
        if changed_since is not None:
            query = query.where(orm.mentor_profiles.c.changed_at >= changed_since)
        return self.session.execute(query.order_by(orm.mentor_profiles.c.member_id)).all()

    # --- mentee profiles -------------------------------------------------------------------
    def mentee(self, member_id: str, *, for_update: bool = False) -> Any | None:
        query = select(orm.mentee_profiles.c.member_id).where(orm.mentee_profiles.c.member_id == member_id)
        return self.session.execute(query.with_for_update() if for_update else query).first()

    def mentee_with_member(self, member_id: str) -> Any | None:
        return self.session.execute(
            select(orm.mentee_profiles, orm.members.c.name, orm.members.c.email)
            .join(orm.members, orm.members.c.member_id == orm.mentee_profiles.c.member_id)
            .where(orm.mentee_profiles.c.member_id == member_id)).first()

    def add_mentee(self, member_id: str, profile: dict[str, Any], at: datetime) -> None:
        self.session.execute(orm.mentee_profiles.insert().values(member_id=member_id, profile=profile,
                                                                 created_at=at, updated_at=at))

    def change_mentee(self, member_id: str, profile: dict[str, Any], at: datetime) -> None:
        self.session.execute(orm.mentee_profiles.update().where(orm.mentee_profiles.c.member_id == member_id)
                             .values(profile=profile, updated_at=at))

    def profiles_of(self, member_id: str) -> list[dict[str, Any] | None]:
        """The member's mentee and mentor profile (None where they have none), in that order."""
        return [self.session.execute(select(table.c.profile).where(table.c.member_id == member_id)).scalar()
                for table in (orm.mentee_profiles, orm.mentor_profiles)]

    def delete_all_of(self, member_id: str) -> bool:
        """Delete both profiles; True when there was a mentor profile."""
        mentored = self.session.execute(orm.mentor_profiles.delete()
                                        .where(orm.mentor_profiles.c.member_id == member_id)).rowcount
        self.session.execute(orm.mentee_profiles.delete().where(orm.mentee_profiles.c.member_id == member_id))
        return bool(mentored)


class RelationshipProjection:
    """The relationships service's relationships, as far as matching needs them."""

    def __init__(self, session: Session | Connection) -> None:
        self.session = session

    def get(self, relationship_id: str, *, for_update: bool = False) -> Any | None:
        table = orm.relationships
        query = select(table).where(table.c.relationship_id == relationship_id)
        return self.session.execute(query.with_for_update() if for_update else query).first()

    def add(self, relationship_id: str, mentor_id: str, mentee_id: str, **values: Any) -> None:
        self.session.execute(orm.relationships.insert().values(relationship_id=relationship_id, mentor_id=mentor_id,
                                                               mentee_id=mentee_id, **values))

    def change(self, relationship_id: str, **values: Any) -> None:
        self.session.execute(orm.relationships.update()
                             .where(orm.relationships.c.relationship_id == relationship_id).values(**values))

    def open_statuses_of_mentor(self, mentor_id: str) -> list[str]:
        table = orm.relationships
        return list(self.session.execute(select(table.c.status).where(
            table.c.mentor_id == mentor_id, table.c.status.in_(OPEN_STATUSES))).scalars())

    def of_mentor(self, mentor_id: str) -> Sequence[Any]:
        """(status, proposed_at, answered_at) of every relationship the mentor was proposed."""
        table = orm.relationships
        return self.session.execute(select(table.c.status, table.c.proposed_at, table.c.answered_at)
                                    .where(table.c.mentor_id == mentor_id)).all()

    def open_counts(self, mentor_ids: list[str] | None) -> dict[str, tuple[int, int]]:
        """(pending, accepted) per mentor with open relationships, of these mentors (None: all)."""
        table = orm.relationships
        query = (select(table.c.mentor_id, table.c.status, func.count())
                 .where(table.c.status.in_(OPEN_STATUSES)).group_by(table.c.mentor_id, table.c.status))
        if mentor_ids is not None:
            query = query.where(table.c.mentor_id.in_(mentor_ids))
        loads: dict[str, tuple[int, int]] = {}
        for mentor_id, status, count in self.session.execute(query):
            pending, active = loads.get(mentor_id, (0, 0))
            loads[mentor_id] = (pending + count, active) if status == "pending" else (pending, active + count)
        return loads


class MatchingUnitOfWork(SqlUnitOfWork):
    """`with uow:` → `uow.members`, `uow.profiles`, `uow.relationships` on `uow.session`;
    `uow.commit()` writes the recorded events to the outbox in the same transaction."""

    members: MemberRepository
    profiles: ProfileRepository
    relationships: RelationshipProjection

    def __enter__(self) -> "MatchingUnitOfWork":
        super().__enter__()
        self.members = MemberRepository(self.session)
        self.profiles = ProfileRepository(self.session)
        self.relationships = RelationshipProjection(self.session)
        return self


class MatchingReads:
    """`with MatchingReads(database) as reads:` → `reads.profiles`, `reads.relationships` on a
    read connection: the unit of work's repositories for reading only, without its transaction
    (on SQLite a unit of work holds the write lock from its start)."""

    profiles: ProfileRepository
    relationships: RelationshipProjection

    def __init__(self, database: Database) -> None:
        self.database = database
        self._connection: Any = None

    def __enter__(self) -> "MatchingReads":
        self._connection = self.database.read_connection()
        connection = self._connection.__enter__()
        self.profiles = ProfileRepository(connection)
        self.relationships = RelationshipProjection(connection)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._connection.__exit__(*exc)
