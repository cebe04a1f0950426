"""The controlled vocabulary of profiles and searches (served by `GET /v1/taxonomy`).

Shared in `schemas/` because events carry these ids (a proposal's areas, a meeting's mode) and
the notifier writes their labels into emails; matching owns the vocabulary and serves it.

Ids are stable snake_case strings (what profiles, searches and the index store);
labels are what portals show.  Expertise entries may carry synonyms: they are
written into the mentor's searchable text so that a free-text search for
"pensions" finds a mentor whose expertise is "financial planning".
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Term:
    id: str
    label: str
    synonyms: tuple[str, ...] = field(default=())


def _terms(*items: tuple[str, str] | tuple[str, str, tuple[str, ...]]) -> tuple[Term, ...]:
    return tuple(Term(*item) for item in items)


EXPERTISE = _terms(
    # The areas the FAQ names for a mentoring relationship.
    ("career_planning", "Career planning", ("career development", "career progression", "promotion")),
    ("work_life_balance", "Work/life balance", ("wellbeing", "flexible working", "stress")),
    ("personal_goals", "Personal goals and objectives", ("objectives", "goal setting")),
    ("communication_influencing", "Communication and influencing", ("presenting", "negotiation", "stakeholders")),
    ("raising_profile", "Raising profile", ("networking", "visibility", "personal brand")),
    ("personal_confidence", "Personal confidence", ("confidence", "imposter syndrome", "assertiveness")),
    ("leadership", "Leadership and management", ("managing people", "team leadership")),
    ("professional_exams", "Professional exams and CPD", ("exams", "study", "cpd", "chartered")),
    # The profession's technical specialisms (insurance and financial services).
    ("underwriting", "Underwriting", ("risk selection", "pricing")),
    ("claims", "Claims handling", ("loss adjusting", "claims management")),
    ("broking", "Broking", ("broker", "placement", "brokerage")),
    ("risk_management", "Risk management", ("enterprise risk", "risk appetite")),
    ("actuarial", "Actuarial", ("actuary", "reserving", "modelling")),
    ("compliance", "Compliance and regulation", ("regulation", "regulatory", "conduct", "fca")),
    ("financial_planning", "Financial planning", ("financial advice", "pensions", "retirement planning",
                                                 "investments", "wealth")),
    ("reinsurance", "Reinsurance", ("treaty", "facultative", "retrocession")),
    ("product_development", "Product development", ("product design", "propositions")),
    ("customer_service", "Customer service", ("customer experience", "complaints")),
    ("insurtech", "Insurtech and data", ("data analytics", "digital", "technology", "automation")),
    ("operations", "Operations", ("process improvement", "transformation")),
    ("sales_distribution", "Sales and distribution", ("business development", "sales")),
    ("mortgage_advice", "Mortgage advice", ("mortgages", "protection")),
    ("fraud", "Counter-fraud", ("fraud investigation", "financial crime")),
    ("cyber_risk", "Cyber risk", ("cyber insurance", "cyber security")),
    ("esg", "ESG and climate risk", ("sustainability", "climate", "net zero")),
)

SECTORS = _terms(
    ("general_insurance", "General insurance"),
    ("life_pensions", "Life and pensions"),
    ("health_protection", "Health and protection"),
    ("reinsurance", "Reinsurance"),
    ("lloyds_london_market", "Lloyd's and the London market"),
    ("broking", "Insurance broking"),
    ("financial_advice", "Financial advice and wealth management"),
    ("mortgages", "Mortgages"),
    ("loss_adjusting", "Loss adjusting"),
    ("insurtech", "Insurtech"),
    ("regulation", "Regulation and public bodies"),
    ("consultancy", "Consultancy"),
    ("banking", "Banking"),
)

CAREER_STAGES = _terms(
    ("student", "Student"),
    ("early", "Early career"),
    ("mid", "Mid career"),
    ("senior", "Senior"),
    ("executive", "Executive"),
    ("retired", "Retired"),
)

INTERACTION_MODES = _terms(
    ("in_person", "In person"),
    ("video", "Video call"),
    ("email", "Email"),
)

QUALIFICATIONS = _terms(
    ("cert_cii", "Certificate in Insurance (Cert CII)"),
    ("dip_cii", "Diploma in Insurance (Dip CII)"),
    ("acii", "Advanced Diploma in Insurance (ACII)"),
    ("fcii", "Fellowship (FCII)"),
    ("cert_pfs", "Certificate in Financial Planning (Cert PFS)"),
    ("dip_pfs", "Diploma in Regulated Financial Planning (Dip PFS)"),
    ("apfs", "Advanced Diploma in Financial Planning (APFS)"),
    ("fpfs", "Fellowship of the PFS (FPFS)"),
    ("chartered_insurer", "Chartered Insurer"),
    ("chartered_insurance_broker", "Chartered Insurance Broker"),
    ("chartered_financial_planner", "Chartered Financial Planner"),
    ("cert_cii_mp", "Certificate in Mortgage Advice (CeMAP / Cert CII (MP))"),
    ("actuary_fia", "Fellow of the Institute and Faculty of Actuaries (FIA)"),
    ("cilla", "Chartered Institute of Loss Adjusters (ACILA/FCILA)"),
    ("irm", "Institute of Risk Management (CIRM)"),
    ("mba", "MBA"),
)

LANGUAGES = _terms(
    ("en", "English"), ("cy", "Welsh"), ("gd", "Scottish Gaelic"), ("ga", "Irish"),
    ("fr", "French"), ("de", "German"), ("es", "Spanish"), ("it", "Italian"), ("pt", "Portuguese"),
    ("nl", "Dutch"), ("pl", "Polish"), ("ro", "Romanian"), ("el", "Greek"), ("tr", "Turkish"),
    ("ar", "Arabic"), ("hi", "Hindi"), ("ur", "Urdu"), ("bn", "Bengali"), ("pa", "Punjabi"),
    ("gu", "Gujarati"), ("ta", "Tamil"), ("zh", "Chinese"), ("ja", "Japanese"), ("ko", "Korean"),
    ("ru", "Russian"), ("sw", "Swahili"), ("yo", "Yoruba"), ("ms", "Malay"),
)

REGIONS = _terms(
    ("london", "London"),
    ("south_east", "South East England"),
    ("south_west", "South West England"),
    ("east_of_england", "East of England"),
    ("east_midlands", "East Midlands"),
    ("west_midlands", "West Midlands"),
    ("yorkshire_humber", "Yorkshire and the Humber"),
    ("north_west", "North West England"),
    ("north_east", "North East England"),
    ("scotland", "Scotland"),
    ("wales", "Wales"),
    ("northern_ireland", "Northern Ireland"),
    ("channel_islands", "Channel Islands"),
    ("isle_of_man", "Isle of Man"),
    ("ireland", "Republic of Ireland"),
    ("europe", "Europe (other)"),
    ("middle_east", "Middle East"),
    ("africa", "Africa"),
    ("asia_pacific", "Asia-Pacific"),
    ("americas", "Americas"),
)

VOCABULARIES: dict[str, tuple[Term, ...]] = {
    "expertise": EXPERTISE,
    "sectors": SECTORS,
    "career_stages": CAREER_STAGES,
    "interaction_modes": INTERACTION_MODES,
    "qualifications": QUALIFICATIONS,
    "languages": LANGUAGES,
    "regions": REGIONS,
}

_IDS = {name: frozenset(t.id for t in terms) for name, terms in VOCABULARIES.items()}
_EXPERTISE_BY_ID = {t.id: t for t in EXPERTISE}


def ids(vocabulary: str) -> frozenset[str]:
    return _IDS[vocabulary]


def is_country(code: str) -> bool:
    """Whether `code` (any case) is an ISO 3166-1 alpha-2 country code."""
    import pycountry  # the maintained ISO 3166 data; loaded on first use

    return len(code) == 2 and pycountry.countries.get(alpha_2=code.upper()) is not None


def label(vocabulary: str, term_id: str) -> str:
    for term in VOCABULARIES[vocabulary]:
        if term.id == term_id:
            return term.label
    return term_id


def expertise_text(expertise_ids: list[str]) -> str:
    """Labels and synonyms of a mentor's expertise: the text free-text search sees for it."""
    words: list[str] = []
    for term_id in expertise_ids:
        term = _EXPERTISE_BY_ID.get(term_id)
        if term is not None:
            words.append(term.label)
            words.extend(term.synonyms)
    return " ".join(words)


def as_json() -> dict[str, list[dict[str, str]]]:
    return {name: [{"id": t.id, "label": t.label} for t in terms] for name, terms in VOCABULARIES.items()}
