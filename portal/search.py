"""Find a mentor: the criteria form, ranked results, a mentor's profile page, the proposal.

The search is a GET form, so its results page has an address of its own: a mentor's profile page
links back to exactly that address, and the browser's back button returns to the same results.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, QueryParams

from portal.connect_api import ApiError
from portal.forms import proposal_body
from portal.web import api_for, checked_form, idempotency_key, local_path, redirect, render, signed_in

router = APIRouter()

#: The criteria the form offers: (criterion, taxonomy vocabulary or None, legend).
CHOICE_CRITERIA = (
    ("expertise", "expertise", "Areas of expertise"),
    ("sectors", "sectors", "Sectors"),
    ("career_stage", "career_stages", "Career stage"),
    ("region", "regions", "Region"),
    ("languages", "languages", "Languages"),
    ("interaction_modes", "interaction_modes", "How you would like to meet"),
    ("qualifications", "qualifications", "Qualifications"),
)
#: How much a criterion counts: the API's own weight unless the member says otherwise.
WEIGHTS = {"low": 1.0, "high": 6.0}
PAGE_SIZE = 10


def search_body(params: QueryParams) -> tuple[dict[str, Any], bool]:
    """The API's search body from the form's query parameters, and whether anything was asked."""
    criteria: dict[str, Any] = {}
    for name, _vocab, _legend in CHOICE_CRITERIA:
        values = [v for v in params.getlist(name) if v]
        if values:
            criteria[name] = values
    country = (params.get("country") or "").strip()
    if country:
        criteria["country"] = [country]
    years = (params.get("years_experience") or "").strip()
    if years:
        criteria["years_experience"] = int(years) if years.isdigit() else years
    interests = [t.strip() for t in (params.get("interests") or "").split(",") if t.strip()]
    if interests:
        criteria["interests"] = interests
    weights: dict[str, float] = {}
    filters: dict[str, Any] = {}
    for name in list(criteria):
        choice = params.get(f"w_{name}") or ""
        if choice == "must":
            filters[name] = criteria.pop(name)
        elif choice in WEIGHTS:
            weights[name] = WEIGHTS[choice]
    text = (params.get("text") or "").strip()
    body: dict[str, Any] = {"criteria": criteria, "weights": weights, "filters": filters,
                            "page": {"size": PAGE_SIZE}}
    if text:
        body["text"] = text
    if params.get("cursor"):
        body["page"]["cursor"] = params["cursor"]
    return body, bool(criteria or filters or text)


def _prefill(mentee: dict[str, Any] | None) -> dict[str, list[str]]:
    """A first search starts from what the member's mentee profile says they are looking for."""
    if not mentee:
        return {}
    region = (mentee.get("location") or {}).get("region")
    return {"expertise": list(mentee.get("areas_sought") or []), "sectors": list(mentee.get("sectors") or []),
            "languages": list(mentee.get("languages") or []),
            "interaction_modes": list(mentee.get("interaction_modes") or []),
            "region": [region] if region else []}


@router.get("/search")
async def search(request: Request) -> Response:
    member = signed_in(request)
    api = api_for(request, member)
    params = request.query_params
    body, asked = search_body(params)
    results = None
    errors: dict[str, str] = {}
    chosen = {name: params.getlist(name) for name, _v, _l in CHOICE_CRITERIA}
    if asked:
        try:
            results = await api.search(body)
        except ApiError as exc:
            if exc.status != 422:
                raise
            errors = exc.field_errors() or {"": exc.detail}
    elif not params.get("run"):
        chosen = {**chosen, **_prefill(await api.profile("mentee"))}
    here = request.url.path + ("?" + request.url.query if request.url.query else "")
    without_cursor = [(k, v) for k, v in params.multi_items() if k not in ("cursor", "page")]
    page = int(params.get("page") or 1) if (params.get("page") or "1").isdigit() else 1
    next_url = None
    if results and results.get("next_cursor"):
        next_url = "/search?" + urlencode(without_cursor + [("cursor", results["next_cursor"]),
                                                            ("page", str(page + 1))])
    first_url = "/search?" + urlencode(without_cursor) if page > 1 else None
    return await render(request, "search.html", results=results, asked=asked, chosen=chosen, params=params,
                        criteria=CHOICE_CRITERIA, errors=errors, here=here, next_url=next_url, first_url=first_url,
                        page=page, page_size=PAGE_SIZE)


@router.get("/mentors/{mentor_id}")
async def mentor_page(request: Request, mentor_id: str, back: str | None = None) -> Response:
    member = signed_in(request)
    mentor = await api_for(request, member).mentor(mentor_id)
    return await render(request, "mentor.html", mentor=mentor, back=local_path(back, "/search", ""), values={},
                        errors={}, key=None, me=member.id == mentor_id)


@router.post("/mentors/{mentor_id}/propose")
async def propose(request: Request, mentor_id: str, form: FormData = Depends(checked_form)) -> Response:
    member = signed_in(request)
    api = api_for(request, member)
    body = {"mentor_id": mentor_id, **proposal_body(form)}
    key = idempotency_key(form)
    try:
        created = await api.propose(body, key)
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        mentor = await api.mentor(mentor_id)
        errors = exc.field_errors() if exc.status == 422 else {"": exc.detail}
        return await render(request, "mentor.html", status=exc.status, mentor=mentor,
                            back=local_path(str(form.get("back") or ""), "/search", ""), values=body,
                            errors=errors, key=key, me=False)
    return redirect(f"/relationships/{created['id']}",
                    f"Your connection request was sent to {created['counterpart']['name']}.", request)
