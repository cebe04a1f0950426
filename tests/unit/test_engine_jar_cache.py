"""The engine jar cache is keyed on what a pom says, not on its bytes: a comment or a re-indented
line keeps the cached jars (a recopy counted against the engine's start-up timeout), a changed
dependency refetches.  And the readiness clock starts at the spawn, after `_prepare` fetched."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from stack.engines import base, jvm

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>org.example</groupId><artifactId>engine</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.example</groupId><artifactId>server</artifactId><version>%s</version></dependency>
  </dependencies>
</project>
"""


@pytest.fixture
def cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pom whose jars are in a private cache; no Maven on PATH, so a refetch fails loudly."""
    monkeypatch.setenv("CONNECT_ENGINES_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs"))
    pom = tmp_path / "pom.xml"
    pom.write_text(POM % "1.0")
    lib = tmp_path / "cache" / "engine" / "lib"
    lib.mkdir(parents=True)
    (lib / "server-1.0.jar").write_bytes(b"jar")
    (lib / ".complete").write_text(jvm.pom_digest(pom) + "\n")
    return pom


def test_a_comment_or_new_indentation_keeps_the_cached_jars(cached: Path) -> None:
    text = cached.read_text()
    cached.write_text("<!-- pinned for the CI image -->\n" + text.replace("  <", "    <")
                      .replace("</dependencies>", "</dependencies>  <!-- keep in step with docs -->"))
    lib = jvm.ensure_maven_lib("engine", cached)
    assert (lib / "server-1.0.jar").read_bytes() == b"jar"


def test_a_marker_of_the_same_pom_bytes_still_counts(cached: Path) -> None:
    marker = cached.parent / "cache" / "engine" / "lib" / ".complete"
    marker.write_text(jvm.files_digest([cached]) + "\n")  # written before the key was canonical
    assert (jvm.ensure_maven_lib("engine", cached) / "server-1.0.jar").exists()


def test_a_changed_dependency_refetches(cached: Path) -> None:
    cached.write_text(POM % "2.0")
    with pytest.raises(base.EngineError, match="mvn not found"):
        jvm.ensure_maven_lib("engine", cached)


class _SlowToPrepare(base.Engine):
    """Ready as soon as it runs; its `_prepare` (a jar fetch) takes longer than the timeout."""

    name = "slow-prepare"
    default_startup_timeout = 1.0

    def _prepare(self) -> None:
        time.sleep(1.5)

    def _command(self) -> list[str]:
        return ["sleep", "30"]

    def _build_url(self) -> str:
        return "none://"

    def _ready(self) -> bool:
        return True


def test_the_readiness_clock_starts_after_prepare(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    engine = _SlowToPrepare()
    try:
        engine.start()
        assert engine.started_seconds >= 1.5
    finally:
        engine.stop()
