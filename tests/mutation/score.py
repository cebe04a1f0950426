"""The mutation score of each domain module, from the results `mutmut run` left in `mutants/`.

    python -m tests.mutation.score [--min 90] [--survivors]

A mutant counts as killed when a test failed, timed out or crashed on it; one that no selected
test reaches ("no tests") counts as surviving: a rule nothing runs is a rule nothing holds.
Mutants listed in `EQUIVALENT` change no behaviour a member could notice (docs/testing.md says
why for each); they leave the denominator, and a listed name that no longer survives is
reported, so the list cannot go stale silently.  Exits 1 when a module is under `--min` or a
mutant was never checked.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

KILLED = {1, 3, 36, 37, 24, -24, 152, 255, -11, -9}  # failed, pytest error, timeouts, type check, crashes
SURVIVED = {0, 5, 33, 35}  # passed, no tests collected / none cover it, suspicious
SKIPPED = {34}

#: mutant name -> why no test can tell it from the original (docs/testing.md, "Equivalent mutants").
EQUIVALENT: dict[str, str] = {
    "services.ops.domain.mirror.x_starts_proposal__mutmut_4":
        "getattr's default False -> None: the result is passed through bool(), and bool(None) is False",
    "services.ops.domain.mirror.x_answers_proposal__mutmut_4":
        "getattr's default False -> None: the result is passed through bool(), and bool(None) is False",
    "services.matching.domain.meaning.x_doc_passages__mutmut_15":
        "doc.get('bio', '') -> doc.get('bio', None): passages() reads `bio or ''`",
    "services.matching.domain.meaning.x_doc_passages__mutmut_17":
        "doc.get('bio', '') -> doc.get('bio'): passages() reads `bio or ''`",
    "services.matching.domain.meaning.x_unit_rows__mutmut_2":
        "astype(np.float64) -> astype(None): numpy's default dtype is float64",
    "services.matching.domain.meaning.x_profile_vector__mutmut_10":
        "shape[-1] -> shape[+1] inside `if ndim == 2`: a 2-D shape's last axis is axis 1",
    "services.matching.domain.meaning.x_relevance__mutmut_10":
        "asarray(cosine, dtype=float64) -> dtype=None: subtracting the float floor makes it float64 anyway",
    "services.matching.domain.meaning.x_relevance__mutmut_12":
        "asarray(cosine, dtype=float64) -> no dtype: subtracting the float floor makes it float64 anyway",
    "services.notifier.domain.rules.x_portal_page__mutmut_12":
        "getattr(event, 'relationship_id', '') -> None: only support events lack the field, and their pages "
        "have no {relationship_id}",
    "services.notifier.domain.rules.x_portal_page__mutmut_18":
        "getattr(event, 'relationship_id', '') -> 'XXXX': only support events lack the field, and their pages "
        "have no {relationship_id}",
    "services.notifier.domain.rules.x_portal_page__mutmut_21":
        "getattr(event, 'request_id', '') -> None: only the team's support_request_new page has {request_id}, "
        "and its event always carries one",
    "services.notifier.domain.rules.x_portal_page__mutmut_27":
        "getattr(event, 'request_id', '') -> 'XXXX': only the team's support_request_new page has {request_id}, "
        "and its event always carries one",
    "services.notifier.domain.feed.x_entry_for__mutmut_30":
        "getattr(event, 'relationship_id', None) -> no default: every event a rule answers has the field",
    "services.relationships.proposals.domain.xǁRelationshipǁtimer_due__mutmut_30":
        "TimerDue(expire=False, ...) -> TimerDue(...): expire defaults to False",
    "services.relationships.proposals.domain.x_first_line__mutmut_13":
        "`rsplit(' ', 1)[0] if ' ' in cut else cut` -> always rsplit: a cut without a space splits into itself",
    "services.relationships.workspace.domain.x_ice_breakers__mutmut_9":
        "connection.get('kind', '') -> None: str(None) is no kind _SHARED names either, so the same default wording",
    "services.relationships.workspace.domain.x_ice_breakers__mutmut_11":
        "connection.get('kind', '') -> no default: str(None) is no kind _SHARED names either",
    "services.relationships.workspace.domain.x_ice_breakers__mutmut_14":
        "connection.get('kind', '') -> 'XXXX': no kind _SHARED names either, so the same default wording",
    "services.relationships.workspace.domain.x_ice_breakers__mutmut_25":
        "an area's label looked up even when not an expertise id: taxonomy.label returns an unknown id unchanged",
}


def module_of(meta: Path, root: Path) -> str:
    return ".".join(meta.relative_to(root).with_suffix("").with_suffix("").parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=Path("mutants"))
    parser.add_argument("--min", type=float, default=90.0, help="the lowest acceptable score per module, in %%")
    parser.add_argument("--survivors", action="store_true", help="list the surviving mutants' names")
    args = parser.parse_args(argv)

    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    survivors: dict[str, list[str]] = defaultdict(list)
    unchecked = stale = 0
    seen_equivalent: set[str] = set()
    for meta in sorted(args.mutants.rglob("*.py.meta")):
        module = module_of(meta, args.mutants)
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            row = counts[module]
            row["mutants"] += 1
            if name in EQUIVALENT:
                seen_equivalent.add(name)
            if code is None:
                unchecked += 1
                row["unchecked"] += 1
            elif code in SKIPPED:
                row["skipped"] += 1
            elif name in EQUIVALENT:
                row["equivalent"] += 1
                if code in KILLED:
                    print(f"stale: {name} is listed as equivalent but a test kills it", file=sys.stderr)
                    stale += 1
            elif code in KILLED:
                row["killed"] += 1
            else:
                row["survived"] += 1
                survivors[module].append(name)
    for name in sorted(set(EQUIVALENT) - seen_equivalent):
        print(f"stale: {name} is listed as equivalent but mutmut made no such mutant", file=sys.stderr)
        stale += 1

    failing = []
    print(f"{'module':<45} {'mutants':>7} {'killed':>6} {'survived':>8} {'equiv.':>6} {'unchecked':>9} {'score':>7}")
    for module, row in sorted(counts.items()):
        judged = row["killed"] + row["survived"]
        score = 100.0 * row["killed"] / judged if judged else 100.0
        verdict = "" if score >= args.min and not row["unchecked"] else "  < %.0f %%" % args.min
        if verdict:
            failing.append(module)
        print(f"{module:<45} {row['mutants']:>7} {row['killed']:>6} {row['survived']:>8} {row['equivalent']:>6} "
              f"{row['unchecked']:>9} {score:>6.1f}%{verdict}")
        if args.survivors:
            for name in survivors[module]:
                print(f"    survived: {name}")
    if unchecked:
        print(f"{unchecked} mutants were never checked: run `make mutation` to the end", file=sys.stderr)
    return 1 if failing or unchecked or stale else 0


if __name__ == "__main__":
    sys.exit(main())
