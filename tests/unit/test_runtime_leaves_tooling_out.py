"""The runtime (`connect`, `services`, `schemas`, `portal`) never imports the tooling package `stack`:
the image ships without it. Only the CLI registers the tooling's commands, by module name, when
the package is there."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_runtime_module_imports_the_tooling() -> None:
    offenders = sorted(
        f"{path.relative_to(ROOT)}: {name}"
        for package in ("connect", "services", "schemas", "portal")
        for path in (ROOT / package).rglob("*.py")
        for name in _imported_modules(path)
        if name == "stack" or name.startswith("stack.")
    )
    assert offenders == []


def test_the_cli_still_offers_the_tooling_commands() -> None:
    from typer.testing import CliRunner

    from connect.cli import app

    result = CliRunner().invoke(app, ["stack", "--help"])
    assert result.exit_code == 0 and "up" in result.output and "down" in result.output
    assert CliRunner().invoke(app, ["run", "smtp-sink", "--help"]).exit_code == 0
