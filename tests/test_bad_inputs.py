"""Issue 15, items 4 and 5: every corpus file the indexer does not index is reported with a reason; legacy
encodings are read; oversized files are skipped unread. `bad_corpus` is also what bench/bad_inputs.py tabulates."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from indexer.build import build_index
from indexer.districts import Gazetteer
from indexer.records import Article, Skipped
from indexer.settings import IndexSettings
from indexer.sources import read_articles
from tests.fakes import FakeEmbedder

TEXT = "潼南柠檬\n\n潼南区柠檬种植面积达到32万亩，产业综合产值超过百亿元。"


def bad_corpus(folder: Path) -> dict[str, str]:
    """Write one file of each awkward kind; returns file name -> what the indexer should do ("article" or a word
    its skip reason must contain)."""
    folder.mkdir(parents=True, exist_ok=True)
    expect = {}

    def put(name: str, data: bytes, outcome: str) -> None:
        (folder / name).write_bytes(data)
        expect[name] = outcome

    put("good.txt", TEXT.encode("utf-8"), "article")
    put("gb18030.txt", TEXT.encode("gb18030"), "article")
    put("gbk.md", TEXT.encode("gbk"), "article")
    put("utf16le.txt", TEXT.encode("utf-16"), "article")  # with BOM
    put("utf16be.txt", b"\xfe\xff" + TEXT.encode("utf-16-be"), "article")
    put("empty.txt", b"", "empty")
    put("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary")
    put("oversized.txt", TEXT.encode("utf-8") * 40, "over the limit")
    put("report.pdf", b"%PDF-1.4\n", "PDF")
    put("report.docx", b"PK\x03\x04", "DOCX")
    good_line = json.dumps({"id": "j1", "text": TEXT}, ensure_ascii=False)
    put("broken.jsonl", (good_line + "\n{broken\n").encode(), "article")
    expect["broken.jsonl:2"] = "not valid JSON"
    put("unreadable.txt", TEXT.encode("utf-8"), "cannot read" if os.geteuid() != 0 else "article")
    (folder / "unreadable.txt").chmod(0)
    (folder / "dangling.txt").symlink_to(folder / "missing-target.txt")
    expect["dangling.txt"] = "dangling"
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    expect["loop.txt"] = "loop"
    (folder / "sub").mkdir()
    (folder / "sub" / "back").symlink_to(folder, target_is_directory=True)
    expect["sub/back"] = "loop"
    return expect


# Small enough that "oversized.txt" (40 copies of TEXT) is over it and every other file is under it.
LIMIT = 1000


@pytest.fixture
def gaz() -> Gazetteer:
    return Gazetteer.load()


def _outcomes(items: list[Article | Skipped], folder: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items:
        path = item.path
        name = Path(path).relative_to(folder).as_posix() if Path(path).is_absolute() else path
        name = name.removeprefix(f"{folder.name}/")
        found.setdefault(name, "article" if isinstance(item, Article) else item.reason)
    return found


def test_every_file_is_read_or_reported_with_a_reason(tmp_path: Path, gaz: Gazetteer) -> None:
    folder = tmp_path / "corpus"
    expect = bad_corpus(folder)
    items = list(read_articles([folder], gaz, root=folder, max_file_bytes=LIMIT))
    found = _outcomes(items, folder)
    for name, outcome in expect.items():
        assert name in found, f"{name} neither read nor reported: {found}"
        assert outcome in found[name], (name, found[name])
    articles = {a.path: a for a in items if isinstance(a, Article)}
    # Decoded text is the same whatever the file's encoding, and the article says how it was decoded.
    for name, encoding in [("gb18030.txt", "gb18030"), ("gbk.md", "gb18030"), ("utf16le.txt", "utf-16")]:
        assert articles[name].text == articles["good.txt"].text and articles[name].encoding == encoding


def test_build_reports_every_skip_and_decoding_also_when_nothing_changed(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    expect = bad_corpus(folder)
    settings = IndexSettings(index_dir=tmp_path / "index", model="fake/bigram-hash", max_file_bytes=LIMIT)
    embedder = FakeEmbedder()
    report = build_index([folder], settings, lambda: embedder).as_dict()
    skipped = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    for name, outcome in expect.items():
        if outcome != "article":
            assert outcome in skipped[Path(name).name], (name, skipped)
    decoded = {Path(d["path"]).name: d["encoding"] for d in report["decoded"]}
    assert decoded["gb18030.txt"] == "gb18030" and decoded["utf16be.txt"] == "utf-16"
    again = build_index([folder], settings, lambda: embedder).as_dict()
    assert {Path(s["path"]).name for s in again["skipped"]} >= {"dangling.txt", "loop.txt", "report.pdf", "back"}


def test_oversized_file_is_never_read(tmp_path: Path, gaz: Gazetteer, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * 2000)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("an oversized file was read"))
    monkeypatch.setenv("POLICYQA_MAX_FILE_BYTES", "1000")
    [skipped] = list(read_articles([big], gaz))  # the limit comes from the environment, as IndexSettings reads it
    assert isinstance(skipped, Skipped) and "2,000 bytes" in skipped.reason and "MAX_FILE_BYTES" in skipped.reason
