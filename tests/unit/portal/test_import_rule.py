"""The portal is a client of Connect's public HTTP API and nothing else: a portal team elsewhere
could build it from the API alone.  No module of `portal/` may import the services, the platform
package, the event schemas, or anything that reaches a database."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PORTAL = Path(__file__).resolve().parents[3] / "portal"
FORBIDDEN = ("services", "connect", "schemas", "sqlalchemy", "alembic", "psycopg", "sqlite3", "redis", "kafka",
             "celery", "tantivy", "opensearchpy", "elasticsearch")


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_portal_imports_nothing_of_connect_or_a_database() -> None:
    modules = sorted(PORTAL.rglob("*.py"))
    assert len(modules) >= 10, "the portal package moved?"
    offences = [f"{path.relative_to(PORTAL.parent)} imports {name}" for path in modules for name in _imports(path)
                if name.split(".")[0] in FORBIDDEN]
    assert not offences, offences


def test_the_rule_sees_an_offence(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom services.matching import api\nimport sqlalchemy.orm\n")
    assert [n for n in _imports(bad) if n.split(".")[0] in FORBIDDEN] == ["services.matching", "sqlalchemy.orm"]


def test_assets_are_served_locally() -> None:
    """No CDN: pages load only the portal's own scripts, styles, fonts and images."""
    elsewhere = re.compile(r'<(?:script|link|img|video|source)[^>]*(?:src|href)="(?:https?:)?//')
    templates = sorted((PORTAL / "templates").glob("*.html"))
    assert templates
    offenders = [t.name for t in templates if elsewhere.search(t.read_text(encoding="utf-8"))]
    assert not offenders, offenders
