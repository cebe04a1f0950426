"""Help: the FAQ, privacy policy, terms, the CPD scheme, guidance articles and videos.

The content is Markdown in `portal/content/`, written for members and kept in the repository.
It is rendered with markdown-it-py with raw HTML switched off, then cleaned by nh3 (an allow-list
HTML sanitiser), so even a careless edit cannot put a script on a page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import nh3
from fastapi import APIRouter, Request
from fastapi.responses import Response
from markdown_it import MarkdownIt

from portal.web import PageNotFound, render

router = APIRouter()
CONTENT = Path(__file__).parent / "content"
SECTIONS = {"": "Help", "articles": "Guidance articles", "videos": "Videos"}
_SLUG = re.compile(r"^[a-z0-9-]{1,80}$")
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": True}).enable("table")


def to_html(source: str) -> str:
    """Markdown as HTML that can carry no script: raw HTML is off, then nh3 keeps an allow-list."""
    return nh3.clean(_markdown.render(source))


@dataclass(frozen=True)
class HelpPage:
    section: str
    slug: str
    title: str
    summary: str
    html: str
    meta: dict[str, str]

    @property
    def path(self) -> str:
        return "/help/" + (f"{self.section}/" if self.section else "") + self.slug


def _split(source: str) -> tuple[dict[str, str], str]:
    """Optional `key: value` lines between `---` fences at the top (e.g. a video's file)."""
    meta: dict[str, str] = {}
    if source.startswith("---\n"):
        head, _, source = source[4:].partition("\n---\n")
        for line in head.splitlines():
            key, _, value = line.partition(":")
            if key.strip():
                meta[key.strip()] = value.strip()
    return meta, source


@lru_cache(maxsize=256)
def page(section: str, slug: str) -> HelpPage:
    if section not in SECTIONS or not _SLUG.match(slug):
        raise PageNotFound()
    path = CONTENT / section / f"{slug}.md"
    if not path.is_file():
        raise PageNotFound()
    meta, source = _split(path.read_text(encoding="utf-8"))
    lines = source.strip().splitlines()
    title = lines[0].lstrip("# ").strip() if lines and lines[0].startswith("# ") else slug.replace("-", " ").title()
    body = "\n".join(lines[1:]) if lines and lines[0].startswith("# ") else source
    summary = meta.get("summary", "")
    return HelpPage(section, slug, title, summary, to_html(body), meta)


@lru_cache(maxsize=8)
def listing(section: str) -> tuple[HelpPage, ...]:
    folder = CONTENT / section
    pages = [page(section, p.stem) for p in sorted(folder.glob("*.md"))]
    return tuple(sorted(pages, key=lambda p: (int(p.meta.get("order", "100")), p.title)))


@router.get("/help")
async def help_index(request: Request) -> Response:
    return await render(request, "help_index.html", pages=listing(""), articles=listing("articles"),
                        videos=listing("videos"))


@router.get("/help/{slug}")
async def help_page(request: Request, slug: str) -> Response:
    return await render(request, "help_page.html", page=page("", slug))


@router.get("/help/{section}/{slug}")
async def help_section_page(request: Request, section: str, slug: str) -> Response:
    if not section:
        raise PageNotFound()
    return await render(request, "help_page.html", page=page(section, slug))
