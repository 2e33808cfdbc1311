"""Retriever behaviour on a real FAISS + BM25 index of the seed corpus (plus 城口 and 石柱), with the fake embedder."""

from __future__ import annotations

import dataclasses
import itertools
import random
from pathlib import Path

import pytest

from server.near_duplicates import any_similar, jaccard, shingles
from server.retrieval import Retriever
from tests.samples import SEED_CORPUS, sample_resources


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory) -> Retriever:
    return sample_resources(tmp_path_factory.mktemp("retrieval")).retriever


def test_fused_candidates_carry_both_scores(retriever: Retriever) -> None:
    small = dataclasses.replace(retriever, config=dataclasses.replace(retriever.config, candidates=5))
    found = small.candidates("潼南柠檬种植面积", mode="fused")
    # Each top list is cut at 5, yet every BM25 candidate has its cosine and every dense one its BM25 score.
    assert set(found.sparse) <= set(found.dense)
    assert len(found.dense) > 5
    bm25 = small.index.sparse(small.tokenizer.tokenize("潼南柠檬种植面积"))
    row_scores = bm25.get(list(found.dense))
    for row in found.dense:
        assert (row in found.sparse) == (row in row_scores)


@pytest.mark.parametrize("mode", ["bm25", "dense", "fused", "hybrid"])
def test_every_mode_returns_k_distinct_passages(retriever: Retriever, mode: str) -> None:
    passages = retriever.search("潼南柠檬种植面积有多少", k=7, mode=mode)  # type: ignore[arg-type]
    assert [p.rank for p in passages] == list(range(1, 8))
    assert len({p.row_id for p in passages}) == 7
    assert all(a.score >= b.score for a, b in itertools.pairwise(passages))


def test_a_named_district_is_preferred(retriever: Retriever) -> None:
    # Neither 城口 nor 石柱 wins on the words alone: 产值 and 种植 appear all over the seed corpus.
    for name in ("城口", "石柱"):
        top = retriever.search(f"{name}的产业一年产值和种植规模", k=3)
        assert any(name in d for d in top[0].chunk.districts), (name, top[0].chunk.districts)


def test_the_district_boost_multiplies_exactly_the_tagged_passages(retriever: Retriever) -> None:
    found = retriever.candidates("石柱的产业产值")
    assert any("石柱" in d for d in found.named)
    neutral = dataclasses.replace(retriever, config=dataclasses.replace(retriever.config, district_boost=1.0))
    base = {p.row_id: p for p in neutral.rank(found, k=50)}
    boosted = {p.row_id: p for p in retriever.rank(found, k=50)}
    assert any(p.chunk.districts and "石柱" in "".join(p.chunk.districts) for p in base.values())
    for row in base.keys() & boosted.keys():
        tagged = any("石柱" in d for d in base[row].chunk.districts)
        factor = retriever.config.district_boost if tagged else 1.0
        assert boosted[row].score == pytest.approx(base[row].score * factor)


def test_a_question_naming_two_districts_gets_both(retriever: Retriever) -> None:
    top = retriever.search("城口和石柱的特色产业", k=2)
    named = {d for p in top for d in p.chunk.districts}
    assert any("城口" in d for d in named) and any("石柱" in d for d in named)


def test_the_hard_filter_keeps_only_that_district(retriever: Retriever) -> None:
    passages = retriever.search("产业产值", k=10, district="潼南")
    assert passages and all("潼南区" in p.chunk.districts for p in passages)


def test_near_duplicate_passages_are_collapsed(retriever: Retriever) -> None:
    # 003 prints its 江津 block twice; the query matches both copies equally well.
    passages = retriever.search("江津区土壤富硒 四面山 原始常绿阔叶林", k=10)
    grams = [shingles(p.chunk.text) for p in passages]
    for i, a in enumerate(grams):
        for b in grams[i + 1 :]:
            assert len(a & b) / len(a | b) < retriever.config.duplicate_jaccard


def test_convex_and_rrf_fusion_both_rank_the_exact_sentence_first(retriever: Retriever) -> None:
    for fusion in ("convex", "rrf"):
        config = dataclasses.replace(retriever.config, fusion=fusion)
        top = dataclasses.replace(retriever, config=config).search("城口县老腊肉年产量", k=1)
        assert "1.8万吨" in top[0].chunk.text, fusion


def test_the_article_term_reorders_candidates_and_adds_none(retriever: Retriever) -> None:
    query = "綦江 汽车轻量化 零部件"
    without = dataclasses.replace(retriever, config=dataclasses.replace(retriever.config, article_weight=0.0))
    found = retriever.candidates(query)
    assert found.articles, "whole-article BM25 scores feed the hybrid mode"
    pool = set(found.dense) | set(found.sparse)
    assert {p.row_id for p in retriever.rank(found, k=50)} <= pool
    assert {p.row_id for p in without.rank(found, k=50)} <= pool


def test_the_duplicated_block_exists_in_the_corpus() -> None:
    # Guards the dedupe test above: it means something only while 003 repeats the block.
    text = next(Path(SEED_CORPUS).glob("003*")).read_text(encoding="utf-8")
    assert text.count("江津区土壤90.2%富硒") == 2


def test_the_size_bound_skips_only_pairs_that_cannot_be_near_duplicates() -> None:
    """any_similar skips intersecting sets whose sizes alone rule the threshold out; it must agree with checking
    every pair, including sizes right at the bound."""
    rng = random.Random(7)
    for _ in range(500):
        universe = rng.randint(5, 60)
        kept = [set(rng.sample(range(universe), rng.randint(1, universe))) for _ in range(rng.randint(0, 5))]
        candidate = set(rng.sample(range(universe), rng.randint(1, universe)))
        threshold = rng.choice([0.5, 0.7, 0.9, 1.0])
        expected = any(jaccard(candidate, other) >= threshold for other in kept)
        assert any_similar(candidate, kept, threshold) == expected
    # Sizes 7 and 10 at 0.7: the bound allows it, and the sets are in fact 0.7 similar.
    assert any_similar(set(range(7)), [set(range(10))], 0.7)
