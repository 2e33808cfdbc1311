"""The one retrieval path: dense ∥ BM25 → score fusion (+ article evidence) → district boost/filter → dedupe.

Modes: `bm25` and `dense` alone, `fused` (fusion only) and `hybrid` (fusion plus district awareness, the default).

The server, the CLI and the evals all call `Retriever.search`, so they rank identically for the same index.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from indexer.districts import Gazetteer
from indexer.embedding import Embedder
from indexer.reader import IndexView, RowMasks, SparseScores
from indexer.records import Article, Chunk
from indexer.sparse import SparseTokenizer
from server.fusion import Fusion, fuse
from server.near_duplicates import any_similar, shingles
from server.passage_reads import PassageReads
from server.question_time import QuestionTime, question_time
from server.reprint_sources import Reprint, reprints_of
from server.rerank import Reranker
from server.time_filter import DateRange, both
from server.time_ranking import TimeRankingConfig, adjust

Mode = Literal["bm25", "dense", "fused", "hybrid"]
MODES: tuple[Mode, ...] = ("bm25", "dense", "fused", "hybrid")


class UnknownDistrictError(ValueError):
    """The `district` filter names no district or zone the gazetteer knows."""


@dataclass(frozen=True)
class RetrievalConfig:
    """Defaults chosen by bench/tune_retrieval.py on CMRC 2018 trial, corpus_gold and district-policies; the
    held-out sets were not looked at. Convex fusion of min-max normalised scores: with BM25 counting each article's
    title three times (indexer.sparse.SparseSettings), BM25 at 1.3 of dense and the article term at 0.25 scored mean
    MRR@10 0.946 (0.945 at the earlier 0.7 and 0.5, within a question per set); the best reciprocal rank fusion
    scored 0.944 and the textbook one (rrf_k 60, equal weights) 0.916 on the first two sets alone."""

    fusion: Fusion = "convex"
    rrf_k: float = 10.0  # only for fusion="rrf"; convex fusion normalises the two weights to sum to one
    dense_weight: float = 1.0
    sparse_weight: float = 1.3
    candidates: int = 100
    # Weight of the passage's article score (whole-article BM25 and the article's best passage, fused alike).
    article_weight: float = 0.25
    # Multiplies the fused score of a passage tagged with a district the query names.
    district_boost: float = 1.5
    # Character 4-gram Jaccard above which two passages count as the same text; reprints found at index time
    # (indexer.reprints) are collapsed before this check.
    duplicate_jaccard: float = 0.7
    # Periods named in questions and 最新/最近 (server.time_ranking); `today` anchors 今年/去年 (None: the clock).
    time: TimeRankingConfig = field(default_factory=TimeRankingConfig)
    today: dt.date | None = None


@dataclass(frozen=True)
class Candidates:
    """Scored candidates of one query: dense cosines and BM25 scores by chunk row id. In the fusion modes both maps
    cover the union of the two top lists (BM25 only where it is above zero)."""

    query: str
    vector: np.ndarray | None
    dense: Mapping[int, float]
    sparse: Mapping[int, float]
    named: tuple[str, ...]  # districts the query names (hybrid mode, no hard filter)
    articles: Mapping[int, float]  # whole-article BM25 scores by global article number (fusion modes)
    asked: QuestionTime = field(
        default_factory=QuestionTime
    )  # the period the query names and whether it asks for the newest (hybrid)


@dataclass(frozen=True)
class Passage:
    rank: int
    score: float
    row_id: int
    chunk: Chunk
    article: Article
    dense: float  # cosine between query and passage, for answer calibration
    sparse: float  # BM25 score
    reprints: tuple[Reprint, ...] = ()  # the same text in other articles


@dataclass(frozen=True)
class Retriever:
    """Retrieval over one index generation. Built per generation (cheap: nothing is scanned), so a live reload
    swaps the whole retriever and a request never mixes two generations."""

    index: IndexView
    embedder: Embedder
    tokenizer: SparseTokenizer
    gazetteer: Gazetteer
    config: RetrievalConfig
    reranker: Reranker | None = None

    @classmethod
    def create(
        cls,
        index: IndexView,
        embedder: Embedder,
        tokenizer: SparseTokenizer,
        gazetteer: Gazetteer,
        config: RetrievalConfig | None = None,
        reranker: Reranker | None = None,
    ) -> Retriever:
        return cls(index, embedder, tokenizer, gazetteer, config or RetrievalConfig(), reranker)

    def resolve_district(self, district: str | None) -> str | None:
        if district is None:
            return None
        canonical = self.gazetteer.canonical(district.strip())
        if canonical is None:
            raise UnknownDistrictError(f"unknown district {district!r}: use a Chongqing district or county name")
        return canonical

    def _complete(
        self, dense: dict[int, float], sparse: dict[int, float], bm25: SparseScores, vector: np.ndarray
    ) -> None:
        """Give every candidate both scores: one retriever's top list holds passages the other ranked lower, and
        fusing with a missing score treats "ranked 150th" like "not relevant at all"."""
        sparse.update(bm25.get(sorted(dense.keys() - sparse.keys())))
        dense.update(self.index.cosines(sorted(sparse.keys() - dense.keys()), vector))

    def candidates(
        self, query: str, district: str | None = None, mode: Mode = "hybrid", dates: DateRange | None = None
    ) -> Candidates:
        """The expensive half of a search: embed the query and score it against both indexes."""
        hard = self.resolve_district(district)
        allowed: RowMasks | None = self.index.district_masks(hard) if hard else None
        if dates is not None:
            allowed = both(allowed, dates.masks(self.index))
        n = self.config.candidates
        vector = self.embedder.embed_queries([query])[0] if mode != "bm25" else None
        dense = self.index.dense(vector, n, allowed) if vector is not None else {}
        tokens = self.tokenizer.tokenize(query) if mode != "dense" else []
        bm25 = self.index.sparse(tokens, allowed) if mode != "dense" else None
        sparse = bm25.top(n) if bm25 is not None else {}
        if mode in ("fused", "hybrid") and vector is not None and bm25 is not None:
            self._complete(dense, sparse, bm25, vector)
        named = self.gazetteer.find(query) if mode == "hybrid" and hard is None else ()
        articles = (
            self.index.article_scores(tokens, n) if mode in ("fused", "hybrid") and self.config.article_weight else {}
        )
        asked = question_time(query, self.config.today) if mode == "hybrid" else QuestionTime()
        return Candidates(query, vector, dense, sparse, named, articles, asked)

    def search(
        self,
        query: str,
        k: int = 10,
        district: str | None = None,
        mode: Mode = "hybrid",
        dates: DateRange | None = None,
    ) -> list[Passage]:
        """`dates`: only passages of articles dated within the range (server.time_filter)."""
        return self.rank(self.candidates(query, district, mode, dates), k, mode)

    def _fuse(self, found: Candidates) -> dict[int, float]:
        cfg = self.config
        fused = fuse(cfg.fusion, [(cfg.dense_weight, found.dense), (cfg.sparse_weight, found.sparse)], cfg.rrf_k)
        if cfg.article_weight:
            # A passage from an article that ranks high as a whole is more likely the one that answers: whole-article
            # BM25, and for dense each article's best passage, since one vector per article would blur long ones.
            article_of = self.index.article_numbers(list(fused))
            best_dense: dict[int, float] = {}
            for row, score in found.dense.items():
                article = article_of[row]
                best_dense[article] = max(best_dense.get(article, score), score)
            lists = [(cfg.dense_weight, best_dense), (cfg.sparse_weight, found.articles)]
            articles = fuse(cfg.fusion, lists, cfg.rrf_k)
            for row in fused:
                fused[row] += cfg.article_weight * articles.get(article_of[row], 0.0)
        return fused

    def rank(self, found: Candidates, k: int = 10, mode: Mode = "hybrid") -> list[Passage]:
        """The cheap half: fuse, boost, dedupe and cut; a sweep over configs can reuse one `candidates` call."""
        if mode == "dense":
            fused = dict(found.dense)
        elif mode == "bm25":
            fused = dict(found.sparse)
        else:
            fused = self._fuse(found)
        if found.named:
            tagged: set[int] = set()
            for district in found.named:
                tagged |= self.index.rows_in_district(list(fused), district)
            for row in tagged:
                fused[row] *= self.config.district_boost
        texts = PassageReads(self.index)
        if found.asked.period is not None or found.asked.recent:
            adjust(fused, found.asked, self.index.row_days(list(fused)), texts.text, self.config.time)
        ranked = sorted(fused, key=lambda r: -fused[r])
        # Reranking and two-district coverage reorder a deeper list than the k finally returned.
        deep = self.reranker is not None or len(found.named) >= 2
        ranked = self._dedupe(ranked, limit=max(k, 30) if deep else k, texts=texts)
        if self.reranker is not None and ranked:
            rerank_scores = self.reranker.score(found.query, [texts.text(r) for r in ranked])
            fused = {r: float(s) for r, s in zip(ranked, rerank_scores, strict=True)}
            ranked = sorted(ranked, key=lambda r: -fused[r])
        if len(found.named) >= 2:
            ranked = self._cover_districts(ranked, found.named)
        top = ranked[:k]
        cosines = dict(found.dense)
        if found.vector is not None and (missing := [r for r in top if r not in cosines]):
            cosines.update(self.index.cosines(missing, found.vector))
        articles = self.index.article_numbers(top)
        texts.get_many(top)
        loaded: dict[int, Article] = {}

        def article_of(number: int) -> Article:
            if number not in loaded:
                loaded[number] = self.index.article_by_number(number)
            return loaded[number]

        others = reprints_of(self.index, top, texts.groups(top), texts.get, article_of)
        passages = []
        for rank, row in enumerate(top, start=1):
            chunk = texts.get(row)
            passages.append(
                Passage(
                    rank, fused[row], row, chunk, article_of(articles[row]), cosines.get(row, 0.0),
                    found.sparse.get(row, 0.0), others.get(row, ()),
                )
            )  # fmt: skip
        return passages

    def _dedupe(self, ranked: Sequence[int], limit: int, texts: PassageReads) -> list[int]:
        kept: list[int] = []
        seen_groups: set[str] = set()
        kept_shingles: list[set[int]] = []
        # Batches grow: most searches need only the first, a corpus full of reprints needs more.
        begin, size = 0, 2 * limit
        while begin < len(ranked):
            batch = ranked[begin : begin + size]
            begin, size = begin + size, size * 4
            texts.load(batch)
            groups = texts.groups(batch)
            for row in batch:
                # One passage per reprint group: found at index time, whatever the passages' boundaries.
                if groups[row] in seen_groups:
                    continue
                candidate = shingles(texts.text(row))
                if any_similar(candidate, kept_shingles, self.config.duplicate_jaccard):
                    continue
                kept.append(row)
                seen_groups.add(groups[row])
                kept_shingles.append(candidate)
                if len(kept) >= limit:
                    return kept
        return kept

    def _cover_districts(self, ranked: list[int], named: Sequence[str]) -> list[int]:
        """A question about two districts gets each one's best passage before the rest, in rank order."""
        firsts: list[int] = []
        for district in named:
            tagged = self.index.rows_in_district(ranked, district)
            best = next((r for r in ranked if r in tagged and r not in firsts), None)
            if best is not None:
                firsts.append(best)
        leading = sorted(firsts, key=ranked.index)
        return leading + [r for r in ranked if r not in leading]
