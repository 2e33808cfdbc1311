"""`policyqa search|ask`: bad input fails fast and cleanly; output is the server's, as a table or as its JSON.

The model is the fake one (patched into the resource loader); index, retrieval and answering are real.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import server.resources
from indexer.build import build_index
from indexer.settings import IndexSettings
from policyqa.cli import main
from server.app import create_app
from server.resources import load_resources
from server.settings import ServerSettings
from tests.fakes import FakeEmbedder

SEED_CORPUS = Path(__file__).resolve().parents[1] / "corpus"


@pytest.fixture(scope="module")
def fake_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    shutil.copytree(SEED_CORPUS, root / "corpus")
    settings = IndexSettings(index_dir=root / "index", model="fake/bigram-hash")
    embedder = FakeEmbedder()
    build_index([root / "corpus"], settings, lambda: embedder)
    return settings.index_dir


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server.resources, "load_embedder", lambda settings, *_args, **_kwargs: FakeEmbedder())


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["search", ""], "query"),
        (["search", "  "], "query"),
        (["search", "潼" * 600], "500"),
        (["search", "潼南", "-k", "0"], "-k"),
        (["search", "潼南", "-k", "51"], "-k"),
        (["ask", ""], "question"),
        (["ask", "潼南", "-k", "99"], "-k"),
        (["search", "潼南", "--date-from", "2024-13-01"], "--date-from"),
    ],
)
def test_bad_input_exits_2_with_one_line_before_loading_anything(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # An index dir that does not exist: validation must fail first, with its own message.
    assert main([*argv, "--index-dir", str(tmp_path / "none")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("policyqa: ") and complaint in captured.err
    assert "Traceback" not in captured.err and captured.err.count("\n") == 1


def test_unknown_district_exits_2(fake_index: Path, fake_model: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "柠檬", "--district", "不存在区", "--index-dir", str(fake_index)]) == 2
    assert "不存在区" in capsys.readouterr().err


def test_missing_index_exits_2_saying_how_to_build_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "柠檬", "--index-dir", str(tmp_path / "none")]) == 2
    assert "policyqa index" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "path", "body"),
    [
        (["search", "潼南的柠檬种植面积有多少", "-k", "4"], "/search", {"query": "潼南的柠檬种植面积有多少", "k": 4}),
        (["ask", "綦江电解铝产能占全市多少？"], "/ask", {"question": "綦江电解铝产能占全市多少？"}),
        (["search", "柠檬", "--district", "潼南"], "/search", {"query": "柠檬", "district": "潼南"}),
    ],
)
def test_json_output_is_the_server_response(
    fake_index: Path, fake_model: None, capsys: pytest.CaptureFixture[str], argv: list[str], path: str, body: dict
) -> None:
    assert main([*argv, "--json", "--index-dir", str(fake_index)]) == 0
    printed = json.loads(capsys.readouterr().out)
    resources = load_resources(IndexSettings(index_dir=fake_index), ServerSettings(), embedder=FakeEmbedder())
    served = TestClient(create_app(resources=resources)).post(path, json=body).json()
    assert printed.pop("took_ms") >= 0 and served.pop("took_ms") >= 0
    assert printed == served


def test_date_range_flags_filter_like_the_api(
    fake_index: Path, fake_model: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # The seed articles have no year: a range leaves nothing, unless undated articles are asked for.
    argv = ["search", "潼南的柠檬", "--json", "--date-from", "2020-01-01", "--index-dir", str(fake_index)]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["results"] == []
    assert main([*argv, "--include-undated"]) == 0
    assert json.loads(capsys.readouterr().out)["results"]


def test_search_table_lists_each_passage(
    fake_index: Path, fake_model: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "潼南的柠檬种植面积有多少？", "-k", "3", "--index-dir", str(fake_index)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["#", "score", "article", "districts", "section", "text"]
    assert [line.split()[0] for line in lines[1:4]] == ["1", "2", "3"]
    assert "潼南区" in "\n".join(lines[1:4])


def test_ask_prints_the_short_answer_then_the_answer_then_its_citations(
    fake_index: Path, fake_model: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", "潼南的柠檬种植面积有多少？", "--index-dir", str(fake_index)]) == 0
    out = capsys.readouterr().out
    assert main(["ask", "潼南的柠檬种植面积有多少？", "--json", "--index-dir", str(fake_index)]) == 0
    answer = json.loads(capsys.readouterr().out)
    if answer["abstained"]:
        assert out.startswith(answer["message"])
    else:
        short = answer["short_answer"]
        first = f"答：{short['text']}[{short['citation']}]\n\n" if short else ""
        assert out.startswith(first + answer["answer"])
        for citation in answer["citations"]:
            assert f"[{citation['n']}] {citation['title']}" in out and citation["text"] in out
