"""Writes the judged set of mentor search from its hand-written source (deterministic).

    python -m bench._judged_set

Source: bench/data/judged_topics.yaml (latent topics: how mentors describe the help they
give, how mentees say what they need).  Output, committed beside it:

* judged_mentors.jsonl: one mentor per topic line (its *topic*), half of them with a second
  topic's line too (their *secondary* topic), and distractors that speak of no topic;
* judged_needs.jsonl: every need of every topic;
* judged_qrels.tsv: need, mentor, grade: 2 when the mentor's topic is the need's, 1 when the
  need's topic is the mentor's secondary topic or a topic related to the mentor's.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parent / "data"
SECTORS = ["general insurance", "the London market", "life and pensions", "broking", "financial advice",
           "reinsurance", "claims"]
SECTOR_IDS = {"general insurance": "general_insurance", "the London market": "lloyds_london_market",
              "life and pensions": "life_pensions", "broking": "broking", "financial advice": "financial_advice",
              "reinsurance": "reinsurance", "claims": "loss_adjusting"}
ROLES = ["an underwriting manager", "a claims director", "a senior broker", "head of compliance",
         "a chartered financial planner", "a risk manager", "an actuarial analyst", "an operations lead",
         "a product manager", "an account executive"]
INTERESTS = ["cycling", "chess", "hill walking", "choir singing", "cooking", "rugby"]
DISTRACTORS = 60


def load_source() -> dict[str, Any]:
    return yaml.safe_load((DATA / "judged_topics.yaml").read_text())


def build(seed: int = 17) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[tuple[str, str, int]]]:
    source = load_source()
    topics: dict[str, Any] = source["topics"]
    rng = random.Random(seed)
    names = sorted(topics)

    def opener() -> tuple[str, str, str]:
        sector, role = rng.choice(SECTORS), rng.choice(ROLES)
        text = rng.choice(source["openers"]).format(years=rng.randint(6, 30), sector=sector, role=role)
        headline = role.split(" ", 1)[1] if role.startswith(("a ", "an ")) else role
        return text[0].upper() + text[1:], SECTOR_IDS[sector], headline[0].upper() + headline[1:]

    def closer() -> str:
        return rng.choice(source["closers"]).format(interest=rng.choice(INTERESTS))

    mentors: list[dict[str, Any]] = []
    for topic in names:
        spec = topics[topic]
        for k, line in enumerate(spec["mentor"]):
            first, sector, headline = opener()
            secondary = rng.choice([t for t in names if t != topic]) if k % 2 else None
            middle = [line] + ([rng.choice(topics[secondary]["mentor"])] if secondary else [])
            expertise = [spec["expertise"]]
            if secondary and topics[secondary]["expertise"] not in expertise:
                expertise.append(topics[secondary]["expertise"])
            mentors.append({"member_id": f"J{len(mentors) + 1:04d}", "topic": topic, "secondary": secondary,
                            "headline": headline,
                            "bio": " ".join([first, *middle, closer()]),
                            "expertise": expertise, "sectors": [sector]})
    for _ in range(DISTRACTORS):
        first, sector, headline = opener()
        lines = rng.sample(source["distractor"], 2)
        mentors.append({"member_id": f"J{len(mentors) + 1:04d}", "topic": None, "secondary": None,
                        "headline": headline, "bio": " ".join([first, *lines, closer()]),
                        "expertise": [rng.choice(["career_planning", "leadership", "underwriting", "claims"])],
                        "sectors": [sector]})
    needs = [{"need_id": f"N{i + 1:03d}", "topic": topic, "text": text}
             for i, (topic, text) in enumerate((t, n) for t in names for n in topics[t]["needs"])]
    qrels: list[tuple[str, str, int]] = []
    for need in needs:
        related = set(topics[need["topic"]].get("related", []))
        for mentor in mentors:
            if mentor["topic"] == need["topic"]:
                grade = 2
            elif mentor["secondary"] == need["topic"] or mentor["topic"] in related:
                grade = 1
            else:
                continue
            qrels.append((need["need_id"], mentor["member_id"], grade))
    return mentors, needs, qrels


def load() -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, dict[str, int]]]:
    """The committed set: mentors, needs, and grades by need then mentor."""
    mentors = [json.loads(line) for line in (DATA / "judged_mentors.jsonl").read_text().splitlines()]
    needs = [json.loads(line) for line in (DATA / "judged_needs.jsonl").read_text().splitlines()]
    grades: dict[str, dict[str, int]] = {}
    for line in (DATA / "judged_qrels.tsv").read_text().splitlines()[1:]:
        need_id, member_id, grade = line.split("\t")
        grades.setdefault(need_id, {})[member_id] = int(grade)
    return mentors, needs, grades


def main() -> None:
    mentors, needs, qrels = build()
    (DATA / "judged_mentors.jsonl").write_text("".join(json.dumps(m) + "\n" for m in mentors))
    (DATA / "judged_needs.jsonl").write_text("".join(json.dumps(n) + "\n" for n in needs))
    (DATA / "judged_qrels.tsv").write_text("need_id\tmember_id\tgrade\n"
                                           + "".join(f"{n}\t{m}\t{g}\n" for n, m, g in qrels))
    print(f"{len(mentors)} mentors, {len(needs)} needs, {len(qrels)} judgements in {DATA}")


if __name__ == "__main__":
    main()
