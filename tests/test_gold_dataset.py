"""Integrity checks for the gold evaluation set ``eval/datasets/corpus_gold.jsonl``.

Stdlib + pytest only: the gold file is checked against the raw articles in
``corpus/`` (an optional YAML front matter block delimited by ``---`` lines is
ignored).
"""

import json
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
GOLD_PATH = ROOT / "eval" / "datasets" / "corpus_gold.jsonl"
CORPUS_DIR = ROOT / "corpus"

ARTICLES = (
    "000_15adcedcf932199a",
    "001_e147faaa81754076",
    "002_39a0fae4dbddedf2",
    "003_115a21c0de3ff03d",
    "004_1b4fb7c91f6e36b8",
)

# District sections of the two multi-district articles; each needs >= 2
# questions whose district is the section and whose evidence lies in that article.
SECTIONS = {
    "003_115a21c0de3ff03d": (
        "璧山区",
        "铜梁区",
        "大足区",
        "合川区",
        "江津区",
        "荣昌区",
        "潼南区",
        "永川区",
    ),
    "004_1b4fb7c91f6e36b8": (
        "渝北区",
        "璧山区",
        "巴南区",
        "江津区",
        "九龙坡区",
        "黔江区",
        "潼南区",
        "万州区",
    ),
}
SINGLE_DISTRICT_ARTICLES = {
    "000_15adcedcf932199a": "潼南区",
    "001_e147faaa81754076": "綦江区",
    "002_39a0fae4dbddedf2": "涪陵区",
}

FIELDS = {"id", "question", "evidence", "answer", "type", "district"}
TYPES = {"number", "place", "list", "date", "fact", "unanswerable"}

MIN_ANSWERABLE = 80
MIN_UNANSWERABLE = 10
MIN_PER_ARTICLE = 5
MIN_PER_SECTION = 2
MIN_CROSS_ARTICLE = 3


def _strip_front_matter(text: str) -> str:
    lines = text.splitlines(keepends=True)
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() == "---":
                return "".join(lines[i + 1 :])
    return text


@lru_cache(maxsize=1)
def load_articles() -> dict[str, str]:
    articles = {}
    for art_id in ARTICLES:
        path = CORPUS_DIR / f"{art_id}.txt"
        assert path.is_file(), f"missing corpus article {path}"
        articles[art_id] = _strip_front_matter(path.read_text(encoding="utf-8"))
    return articles


@lru_cache(maxsize=1)
def load_gold() -> tuple[dict, ...]:
    records = []
    with GOLD_PATH.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            assert line.strip(), f"blank line {lineno} in {GOLD_PATH.name}"
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:  # pragma: no cover - failure path
                pytest.fail(f"line {lineno} is not valid JSON: {exc}")
    return tuple(records)


def evidence_pairs(record: dict) -> list[tuple[str | None, str]]:
    """(article id or None, evidence string) for list and dict evidence forms."""
    ev = record["evidence"]
    if isinstance(ev, dict):
        return [(art, s) for art, strings in ev.items() for s in strings]
    return [(None, s) for s in ev]


def evidence_articles(record: dict) -> set[str]:
    """Articles in which the record's evidence lies."""
    articles = load_articles()
    found = set()
    for art, text in evidence_pairs(record):
        if art is not None:
            found.add(art)
        else:
            found.update(a for a, body in articles.items() if text in body)
    return found


def answerable(records=None) -> list[dict]:
    return [r for r in (records or load_gold()) if r["type"] != "unanswerable"]


def test_gold_file_and_corpus_exist():
    assert GOLD_PATH.is_file()
    assert len(load_articles()) == len(ARTICLES)


def test_schema():
    for r in load_gold():
        assert set(r) == FIELDS, f"{r.get('id')}: fields {sorted(r)}"
        assert isinstance(r["id"], str)
        assert isinstance(r["question"], str) and r["question"].strip(), r["id"]
        assert r["type"] in TYPES, f"{r['id']}: type {r['type']!r}"
        assert r["answer"] is None or (isinstance(r["answer"], str) and r["answer"]), r["id"]
        assert r["district"] is None or (isinstance(r["district"], str) and r["district"]), r["id"]
        ev = r["evidence"]
        if isinstance(ev, dict):
            assert ev, f"{r['id']}: empty evidence dict"
            for art, strings in ev.items():
                assert art in ARTICLES, f"{r['id']}: unknown article {art!r}"
                assert isinstance(strings, list) and strings, r["id"]
                assert all(isinstance(s, str) and s for s in strings), r["id"]
        else:
            assert isinstance(ev, list), f"{r['id']}: evidence must be list or dict"
            assert all(isinstance(s, str) and s for s in ev), r["id"]


def test_ids_unique_and_sequential():
    ids = [r["id"] for r in load_gold()]
    assert len(ids) == len(set(ids)), [i for i, c in Counter(ids).items() if c > 1]
    assert ids == [f"g{i:03d}" for i in range(1, len(ids) + 1)]


def test_evidence_verbatim_single_line():
    articles = load_articles()
    problems = []
    for r in load_gold():
        for art, text in evidence_pairs(r):
            if "\n" in text or "\r" in text:
                problems.append(f"{r['id']}: evidence contains a line break: {text!r}")
            elif art is not None:
                if text not in articles[art]:
                    problems.append(f"{r['id']}: not in {art}: {text!r}")
            elif not any(text in body for body in articles.values()):
                problems.append(f"{r['id']}: not in any article: {text!r}")
    assert not problems, "\n".join(problems)


def test_answer_inside_evidence():
    problems = [
        f"{r['id']}: {r['answer']!r}"
        for r in load_gold()
        if r["answer"] is not None and not any(r["answer"] in text for _, text in evidence_pairs(r))
    ]
    assert not problems, "answers missing from their evidence:\n" + "\n".join(problems)


def test_answerable_records_have_evidence_and_answer():
    for r in answerable():
        assert evidence_pairs(r), f"{r['id']}: answerable without evidence"
        assert r["answer"] is not None, f"{r['id']}: answerable without answer"


def test_unanswerable_shape():
    for r in load_gold():
        if r["type"] == "unanswerable":
            assert r["evidence"] == [], r["id"]
            assert r["answer"] is None, r["id"]


def test_counts():
    records = load_gold()
    n_unanswerable = sum(r["type"] == "unanswerable" for r in records)
    assert len(answerable(records)) >= MIN_ANSWERABLE
    assert n_unanswerable >= MIN_UNANSWERABLE


def test_cross_article_questions():
    cross = [r for r in load_gold() if isinstance(r["evidence"], dict) and len(r["evidence"]) >= 2]
    assert len(cross) >= MIN_CROSS_ARTICLE


@pytest.mark.parametrize("article", ARTICLES)
def test_every_article_covered(article):
    n = sum(article in evidence_articles(r) for r in answerable())
    assert n >= MIN_PER_ARTICLE, f"{article}: only {n} questions"


@pytest.mark.parametrize(
    ("article", "district"),
    [(a, d) for a, ds in SECTIONS.items() for d in ds] + list(SINGLE_DISTRICT_ARTICLES.items()),
)
def test_every_district_section_covered(article, district):
    n = sum(r["district"] == district and article in evidence_articles(r) for r in answerable())
    assert n >= MIN_PER_SECTION, f"{district} in {article}: only {n} questions"


def test_every_district_named_at_least_twice():
    districts = {d for ds in SECTIONS.values() for d in ds} | set(SINGLE_DISTRICT_ARTICLES.values())
    counts = Counter(r["district"] for r in load_gold())
    missing = {d: counts[d] for d in districts if counts[d] < MIN_PER_SECTION}
    assert not missing, missing
