"""Turning posted HTML forms into the API's request bodies (and back, to show a form again)."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData

MENTOR_LISTS = ("expertise", "sectors", "qualifications", "languages", "interaction_modes")
MENTEE_LISTS = ("areas_sought", "sectors", "languages", "interaction_modes")


def text(form: FormData, name: str) -> str:
    return str(form.get(name) or "").strip()


def optional(form: FormData, name: str) -> str | None:
    return text(form, name) or None


def many(form: FormData, name: str) -> list[str]:
    return [str(v) for v in form.getlist(name) if str(v).strip()]


def tags(form: FormData, name: str) -> list[str]:
    """A comma-separated free-text list ("cycling, chess")."""
    return [part.strip() for part in text(form, name).split(",") if part.strip()]


def number(form: FormData, name: str) -> int | str | None:
    """An integer, or the text as typed (the API then says what is wrong with it)."""
    value = text(form, name)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return value


def location(form: FormData) -> dict[str, Any] | None:
    country = text(form, "country").upper()
    region, city = optional(form, "region"), optional(form, "city")
    if not (country or region or city):
        return None
    return {"country": country, "region": region, "city": city}


def profile_body(kind: str, form: FormData) -> dict[str, Any]:
    if kind == "mentor":
        body: dict[str, Any] = {"headline": text(form, "headline"), "bio": text(form, "bio"),
                                "career_stage": optional(form, "career_stage"),
                                "years_experience": number(form, "years_experience"),
                                "employer": optional(form, "employer")}
        lists = MENTOR_LISTS
    else:
        body = {"goals": text(form, "goals"), "career_stage": optional(form, "career_stage")}
        lists = MENTEE_LISTS
    for name in lists:
        body[name] = many(form, name)
    body["interests"] = tags(form, "interests")
    body["location"] = location(form)
    return body


def proposal_body(form: FormData) -> dict[str, Any]:
    return {"message": text(form, "message"), "areas": many(form, "areas"), "goals": text(form, "goals"),
            "interaction_modes": many(form, "interaction_modes"), "duration_months": number(form, "duration_months")}


