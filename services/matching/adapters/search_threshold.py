"""The exact page of a search with a need on an engine that ranks only part of the score.

An Elasticsearch or OpenSearch search with a need scores each listed mentor
`final = base + bonus(similarity)`: the engine sums the base (criteria, words, nudge),
`SearchQuery.semantic_bonus` turns the exact int8 cosine of the mentor's profile vector
with the need into the bonus.  No single engine request orders by `final`, so the page is
found from two lists sorted on its two parts (Fagin's threshold algorithm, in the form
that allows "no random access yet" -- NRA -- for the cheap bounds):

- the *ranked* list: listed mentors by base, highest first (the engine's ranking query);
- the *nearest* list: passing mentors with a vector by similarity, nearest first (the
  engine's own float similarity: `knn`, or the exact painless scan).

Both are read a chunk at a time.  A mentor seen in one list gets the other part by a
request for its id (`bases`, `estimates`), and the exact int8 cosine (`exact`, which reads
the stored vector) only when its score could still reach the page.  Every mentor known so
far has an interval for its final score; a mentor in neither list scores at most
`ranked frontier + bonus(nearest frontier + EPSILON)`.  The page is settled when its
`wanted` mentors have exact scores and everyone else's upper bound is below the
`wanted`-th of them (strictly: a tie could go to a smaller member id).  Who is listed,
the order (final score, then member id) and every score are the embedded engine's.

The engines' float similarities only bound: the exact cosine lies within EPSILON of them
(`tests/contract/search/test_meaning_conformance.py` checks it on both engines); every
score and similarity this returns comes from `meaning.cosines`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from services.matching.domain import meaning

log = logging.getLogger(__name__)

# The engines compute a float cosine of the same int8 vectors: Elasticsearch's knn score is
# float32 (1 + cosine) / 2, OpenSearch's script score the float32 of 1 + cosine; both are
# within about 1e-7 of the exact cosine.  A hundred times that keeps every bound safe.
EPSILON = 1e-5
# Hits per request of a list at most (Elasticsearch's result window and knn `k` limit).
MAX_CHUNK = 10_000
_NONE = -math.inf


class TwoLists(Protocol):
    """What the algorithm asks of an engine, for one search with a need."""

    def nearest(self, count: int) -> tuple[list[tuple[str, float]], bool]:
        """The next `count` passing mentors nearest the need, nearest first, with the engine's
        float cosine; and whether more may follow."""
        ...

    def ranked(self, near_ids: list[str], count: int) -> tuple[list[tuple[str, float]], bool]:
        """The next `count` listed mentors by base score (then member id) and their base; and
        whether more may follow.  `near_ids` (the same on every call) are listed whatever
        else they match."""
        ...

    def bases(self, near_ids: list[str], ids: list[str]) -> dict[str, float]:
        """The base score of each of `ids` that is listed (the others are absent)."""
        ...

    def estimates(self, ids: list[str]) -> dict[str, float]:
        """The engine's float cosine of each of `ids` that has a vector (the others are absent)."""
        ...

    def exact(self, ids: list[str]) -> dict[str, float]:
        """The exact int8 cosine (`meaning.cosines`) of each of `ids` that has a vector."""
        ...


@dataclass
class Ranked:
    """The settled top of a search: (final score, member id, exact cosine), best first."""

    top: list[tuple[float, str, float]]
    near_ids: list[str]
    reads: dict[str, int] = field(default_factory=dict)  # requests by kind (for tests and the benchmark)


class _Table:
    """What is known of each mentor met so far, as columns (NaN: not known yet)."""

    def __init__(self) -> None:
        self.row: dict[str, int] = {}
        self.ids: list[str] = []
        self.base = np.zeros(0)
        self.listed = np.zeros(0, dtype=np.int8)  # -1 not known, 0 no, 1 yes
        self.approx = np.zeros(0)
        self.exact = np.zeros(0)

    def rows(self, member_ids: list[str]) -> np.ndarray:
        new = [m for m in dict.fromkeys(member_ids) if m not in self.row]
        if new:
            for m in new:
                self.row[m] = len(self.ids)
                self.ids.append(m)
            grow = len(new)
            self.base = np.concatenate([self.base, np.full(grow, np.nan)])
            self.listed = np.concatenate([self.listed, np.full(grow, -1, dtype=np.int8)])
            self.approx = np.concatenate([self.approx, np.full(grow, np.nan)])
            self.exact = np.concatenate([self.exact, np.full(grow, np.nan)])
        return np.array([self.row[m] for m in member_ids], dtype=np.int64)


def nearest_set(lists: TwoLists, bonus: Callable[[np.ndarray], np.ndarray], first_chunk: int,
                table: _Table, reads: dict[str, int]) -> tuple[list[str], float, bool]:
    """The SEMANTIC_CANDIDATES passing mentors nearest the need whose bonus is above 0 (by exact
    cosine, ties by member id), reading the nearest list until no unread mentor could be one.
    Returns them, the last float cosine read and whether the nearest list may go on."""
    wanted = meaning.SEMANTIC_CANDIDATES
    order: list[str] = []
    front, more, chunk = _NONE, True, first_chunk
    exact_upto = 0
    step = 32
    stuck = False
    while True:
        if more and not stuck and exact_upto + step > len(order):
            ids, last, more = _read_nearest(lists, chunk, table, reads)
            order += ids
            if last is not None:
                front = last
            elif more:
                stuck = True  # the engine reads no deeper (Elasticsearch's knn stops at 10,000)
            chunk = min(chunk * 4, MAX_CHUNK)
        upto = min(len(order), max(exact_upto + step, wanted + 16))
        at = table.rows(order[exact_upto:upto])
        missing = [table.ids[i] for i in at if np.isnan(table.exact[i])]
        if missing:
            _count(reads, "exact", missing)
            found = lists.exact(missing)
            at = table.rows(missing)
            table.exact[at] = [found.get(m, 0.0) for m in missing]
        exact_upto = upto
        # Everything past the exact prefix is at most the next float cosine (or the frontier).
        bound = (float(table.approx[table.row[order[exact_upto]]]) if exact_upto < len(order)
                 else front if more else _NONE)
        sims = table.exact[table.rows(order[:exact_upto])] if exact_upto else np.zeros(0)
        eligible = sorted((-float(sim), m) for sim, m, extra in zip(sims, order, bonus(sims)) if extra > 0)
        if bound == _NONE:
            break
        bound_up = bound + EPSILON
        if float(bonus(np.array([bound_up]))[0]) <= 0:
            break  # no one unread can have a bonus
        if len(eligible) >= wanted and -eligible[wanted - 1][0] > bound_up:
            break
        if exact_upto >= len(order) and stuck:
            log.warning("the %s nearest mentors could not be told apart within %s read", wanted, len(order))
            break
    return [m for _neg, m in eligible[:wanted]], front, more


def _read_nearest(lists: TwoLists, count: int, table: _Table,
                  reads: dict[str, int]) -> tuple[list[str], float | None, bool]:
    """The next `count` of the nearest list, their float cosines noted in `table`: their ids, the
    last one's cosine (None: none read) and whether more may follow."""
    rows, more = lists.nearest(count)
    _count(reads, "nearest")
    if rows:
        at = table.rows([m for m, _a in rows])  # before indexing: it may grow the columns
        table.approx[at] = [a for _m, a in rows]
    return [m for m, _a in rows], (rows[-1][1] if rows else None), more


def _count(reads: dict[str, int], kind: str, ids: list[str] | None = None) -> None:
    """One more request of `kind` (and, for a lookup by id, how many ids it named)."""
    reads[kind] = reads.get(kind, 0) + 1
    if ids is not None:
        reads[kind + "_ids"] = reads.get(kind + "_ids", 0) + len(ids)


def settle(lists: TwoLists, bonus: Callable[[np.ndarray], np.ndarray], wanted: int,
           after: tuple[float, str] | None = None, first_nearest: int = 1024,
           first_ranked: int = 1024) -> Ranked:
    """The `wanted` best listed mentors after `after` (a cursor's last (score, member id)), each
    with its exact final score and cosine; fewer when fewer are listed."""
    table = _Table()
    reads: dict[str, int] = {}
    near, b_front, b_more = nearest_set(lists, bonus, first_nearest, table, reads)
    a_front, a_more = math.inf, True
    a_chunk, b_chunk = first_ranked, min(first_nearest * 4, MAX_CHUNK)
    b_stuck = False

    def read_ranked() -> None:
        nonlocal a_front, a_more, a_chunk
        rows, a_more = lists.ranked(near, a_chunk)
        _count(reads, "ranked")
        if rows:
            at = table.rows([m for m, _b in rows])
            table.base[at] = [b for _m, b in rows]
            table.listed[at] = 1
            a_front = rows[-1][1]
        a_chunk = min(a_chunk * 4, MAX_CHUNK)

    def read_nearest() -> None:
        nonlocal b_front, b_more, b_chunk, b_stuck
        _ids, last, b_more = _read_nearest(lists, b_chunk, table, reads)
        if last is not None:
            b_front = last
        elif b_more:
            b_stuck = True  # no deeper: the frontier stays the bound
        b_chunk = min(b_chunk * 4, MAX_CHUNK)

    def bonus_of(sims: np.ndarray) -> np.ndarray:
        return bonus(sims) if len(sims) else np.zeros(0)

    read_ranked()
    while True:
        if not a_more:
            table.listed[table.listed == -1] = 0  # the ranked list is whole and did not name them
        if not b_more:
            # The nearest list named every passing mentor with a vector: the rest have none.
            table.exact[np.isnan(table.exact) & np.isnan(table.approx)] = 0.0
        unseen_sim = b_front + EPSILON if b_more else 0.0  # for a mentor the nearest list has not named
        ids = np.flatnonzero(table.listed != 0)
        base, exact, approx = table.base[ids], table.exact[ids], table.approx[ids]
        base_known = ~np.isnan(base)
        sim_known = ~np.isnan(exact)
        sim_lo = np.where(sim_known, exact, np.where(np.isnan(approx), -1.0, approx - EPSILON))
        sim_hi = np.where(sim_known, exact, np.where(np.isnan(approx), unseen_sim, approx + EPSILON))
        lo = np.where(base_known, np.nan_to_num(base) + bonus_of(sim_lo), _NONE)
        hi = np.where(base_known, base, a_front) + bonus_of(sim_hi)
        settled = base_known & sim_known
        if after is not None:
            after_score, after_id = after
            id_after = (np.array(table.ids, dtype=object)[ids] > after_id).astype(bool)
            # Drop who surely comes before the cursor; count toward the page only who surely follows.
            before = (lo > after_score) | (settled & (lo == after_score) & ~id_after)
            follows = base_known & ((hi < after_score) | (settled & ((lo < after_score)
                                                                      | ((lo == after_score) & id_after))))
        else:
            before = np.zeros(len(ids), dtype=bool)
            follows = base_known
        page_lo = np.sort(lo[follows])[::-1]
        threshold = float(page_lo[wanted - 1]) if len(page_lo) >= wanted else _NONE
        contending = ~before & (hi >= threshold)
        # Cheap requests first: a base for whom the ranked list has not reached, a float cosine
        # for whom the nearest list has not; then the exact cosine of whoever is left.
        need_base = [table.ids[i] for i in ids[contending & ~base_known]]
        need_estimate = [table.ids[i] for i in ids[contending & base_known & ~sim_known & np.isnan(approx)]]
        if need_base:
            _count(reads, "bases", need_base)
            found = lists.bases(near, need_base)
            at = table.rows(need_base)
            table.base[at] = [found.get(m, np.nan) for m in need_base]
            table.listed[at] = [1 if m in found else 0 for m in need_base]
        if need_estimate:
            _count(reads, "estimates", need_estimate)
            found = lists.estimates(need_estimate)
            at = table.rows(need_estimate)
            table.approx[at] = [found.get(m, np.nan) for m in need_estimate]
            table.exact[at] = [np.nan if m in found else 0.0 for m in need_estimate]  # absent: no vector
        if need_base or need_estimate:
            continue
        need_exact = [table.ids[i] for i in ids[contending & ~sim_known]]
        if need_exact:
            _count(reads, "exact", need_exact)
            found = lists.exact(need_exact)
            at = table.rows(need_exact)
            table.exact[at] = [found.get(m, 0.0) for m in need_exact]
            continue
        # Everyone met who could reach the page is settled; could someone not met yet?
        if not a_more:
            break
        unseen_bonus = float(bonus(np.array([unseen_sim]))[0])
        if a_front + unseen_bonus < threshold:
            break
        read_ranked()
        # The nearest list too when it alone could close the gap (its frontier's bonus falling to 0
        # would do): each of its requests scans every passing mentor, the ranked list's do not.
        if b_more and not b_stuck and unseen_bonus > 0 and a_front < threshold:
            read_nearest()
    final = np.nan_to_num(base) + bonus_of(np.nan_to_num(exact))
    ordered = sorted(((float(final[k]), table.ids[i]) for k, i in enumerate(ids) if contending[k] and settled[k]),
                     key=lambda hit: (-hit[0], hit[1]))
    if after is not None:
        ordered = [(score, m) for score, m in ordered
                   if score < after[0] or (score == after[0] and m > after[1])]
    return Ranked(top=[(score, m, float(table.exact[table.row[m]])) for score, m in ordered[:wanted]],
                  near_ids=near, reads=reads)
