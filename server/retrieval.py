"""The one retrieval path: dense ∥ BM25 → score fusion (+ article evidence) → district boost/filter → dedupe.

Modes: `bm25` and `dense` alone, `fused` (fusion only) and `hybrid` (fusion plus district awareness, the default).

The server, the CLI and the evals all call `Retriever.search`, so they rank identically for the same index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from indexer.districts import Gazetteer
from indexer.embedding import Embedder
from indexer.reader import LoadedIndex
from indexer.records import Article, Chunk
from indexer.sparse import SparseTokenizer
from server.fusion import Fusion, fuse
from server.rerank import Reranker

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
    # Character 4-gram Jaccard above which two passages count as the same text (the duplicated block in 003).
    duplicate_jaccard: float = 0.7


@dataclass(frozen=True)
class Candidates:
    """Scored candidates of one query: dense cosines and BM25 scores by chunk row id. In the fusion modes both maps
    cover the union of the two top lists (BM25 only where it is above zero)."""

    query: str
    vector: np.ndarray | None
    dense: Mapping[int, float]
    sparse: Mapping[int, float]
    named: tuple[str, ...]  # districts the query names (hybrid mode, no hard filter)
    articles: Mapping[str, float]  # whole-article BM25 scores by article id (fusion modes)


@dataclass(frozen=True)
class Passage:
    rank: int
    score: float
    row_id: int
    chunk: Chunk
    article: Article
    dense: float  # cosine between query and passage, for answer calibration
    sparse: float  # BM25 score


def _shingles(text: str, n: int = 4) -> frozenset[str]:
    compact = "".join(text.split())
    return frozenset(compact[i : i + n] for i in range(max(1, len(compact) - n + 1)))


@dataclass(frozen=True)
class Retriever:
    index: LoadedIndex
    embedder: Embedder
    tokenizer: SparseTokenizer
    gazetteer: Gazetteer
    config: RetrievalConfig
    district_rows: Mapping[str, frozenset[int]]
    reranker: Reranker | None = None

    @classmethod
    def create(
        cls,
        index: LoadedIndex,
        embedder: Embedder,
        tokenizer: SparseTokenizer,
        gazetteer: Gazetteer,
        config: RetrievalConfig | None = None,
        reranker: Reranker | None = None,
    ) -> Retriever:
        by_district: dict[str, set[int]] = {}
        for row, chunk in index.chunks.items():
            for district in chunk.districts:
                by_district.setdefault(district, set()).add(row)
        frozen = {d: frozenset(rows) for d, rows in by_district.items()}
        return cls(index, embedder, tokenizer, gazetteer, config or RetrievalConfig(), frozen, reranker)

    def resolve_district(self, district: str | None) -> str | None:
        if district is None:
            return None
        canonical = self.gazetteer.canonical(district.strip())
        if canonical is None:
            raise UnknownDistrictError(f"unknown district {district!r}: use a Chongqing district or county name")
        return canonical

    def _dense(self, query_vector: np.ndarray, allowed: frozenset[int] | None) -> dict[int, float]:
        import faiss

        total = self.index.vectors.ntotal
        n = min(self.config.candidates, total)
        if n == 0:
            return {}
        params = None
        if allowed is not None:
            if not allowed:
                return {}
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.fromiter(allowed, dtype=np.int64)))
        scores, ids = self.index.vectors.search(query_vector[None, :], n, params=params)
        return {int(i): float(s) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0}

    def _sparse(self, query: str, allowed: frozenset[int] | None) -> np.ndarray:
        """BM25 score of every chunk, aligned with `index.sparse.row_ids` (zero outside `allowed`)."""
        scores = self.index.sparse.scores(self.tokenizer.tokenize(query))
        if allowed is not None:
            rows = self.index.sparse.row_ids
            mask = np.fromiter((int(r) in allowed for r in rows), dtype=bool, count=len(rows))
            scores = np.where(mask, scores, 0.0)
        return scores

    def _top(self, scores: np.ndarray) -> dict[int, float]:
        rows = self.index.sparse.row_ids
        n = min(self.config.candidates, int(np.count_nonzero(scores)))
        if n == 0:
            return {}
        return {int(rows[i]): float(scores[i]) for i in np.argpartition(-scores, n - 1)[:n]}

    def _complete(
        self, dense: dict[int, float], sparse: dict[int, float], bm25: np.ndarray, vector: np.ndarray
    ) -> None:
        """Give every candidate both scores: one retriever's top list holds passages the other ranked lower, and
        fusing with a missing score treats "ranked 150th" like "not relevant at all"."""
        rows = self.index.sparse.row_ids  # ascending: the BM25 matrix is built from the chunks ordered by id
        for row in dense.keys() - sparse.keys():
            position = int(np.searchsorted(rows, row))
            if position < len(rows) and rows[position] == row and bm25[position] > 0:
                sparse[row] = float(bm25[position])
        for row in sparse.keys() - dense.keys():
            dense[row] = float(self.index.vectors.reconstruct(row) @ vector)

    def candidates(self, query: str, district: str | None = None, mode: Mode = "hybrid") -> Candidates:
        """The expensive half of a search: embed the query and score it against both indexes."""
        hard = self.resolve_district(district)
        allowed = self.district_rows.get(hard, frozenset()) if hard else None
        vector = self.embedder.embed_queries([query])[0] if mode != "bm25" else None
        dense = self._dense(vector, allowed) if vector is not None else {}
        bm25 = self._sparse(query, allowed) if mode != "dense" else None
        sparse = self._top(bm25) if bm25 is not None else {}
        if mode in ("fused", "hybrid") and vector is not None and bm25 is not None:
            self._complete(dense, sparse, bm25, vector)
        named = self.gazetteer.find(query) if mode == "hybrid" and hard is None else ()
        articles = self._articles(query) if mode in ("fused", "hybrid") and self.config.article_weight else {}
        return Candidates(query, vector, dense, sparse, named, articles)

    def _articles(self, query: str) -> dict[str, float]:
        index = self.index.article_sparse
        scores = index.scores(self.tokenizer.tokenize(query))
        n = min(self.config.candidates, int(np.count_nonzero(scores)))
        if n == 0:
            return {}
        return {index.keys[i]: float(scores[i]) for i in np.argpartition(-scores, n - 1)[:n]}

    def search(self, query: str, k: int = 10, district: str | None = None, mode: Mode = "hybrid") -> list[Passage]:
        return self.rank(self.candidates(query, district, mode), k, mode)

    def _fuse(self, found: Candidates) -> dict[int, float]:
        cfg = self.config
        fused = fuse(cfg.fusion, [(cfg.dense_weight, found.dense), (cfg.sparse_weight, found.sparse)], cfg.rrf_k)
        if cfg.article_weight:
            # A passage from an article that ranks high as a whole is more likely the one that answers: whole-article
            # BM25, and for dense each article's best passage, since one vector per article would blur long ones.
            best_dense: dict[str, float] = {}
            for row, score in found.dense.items():
                article = self.index.chunks[row].article_id
                best_dense[article] = max(best_dense.get(article, score), score)
            lists = [(cfg.dense_weight, best_dense), (cfg.sparse_weight, found.articles)]
            articles = fuse(cfg.fusion, lists, cfg.rrf_k)
            for row in fused:
                fused[row] += cfg.article_weight * articles.get(self.index.chunks[row].article_id, 0.0)
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
            named = set(found.named)
            for row in fused:
                if named.intersection(self.index.chunks[row].districts):
                    fused[row] *= self.config.district_boost
        ranked = sorted(fused, key=lambda r: -fused[r])
        # Reranking and two-district coverage reorder a deeper list than the k finally returned.
        deep = self.reranker is not None or len(found.named) >= 2
        ranked = self._dedupe(ranked, limit=max(k, 30) if deep else k)
        if self.reranker is not None and ranked:
            rerank_scores = self.reranker.score(found.query, [self.index.chunks[r].text for r in ranked])
            fused = {r: float(s) for r, s in zip(ranked, rerank_scores, strict=True)}
            ranked = sorted(ranked, key=lambda r: -fused[r])
        if len(found.named) >= 2:
            ranked = self._cover_districts(ranked, found.named)
        return [
            self._passage(rank, row, fused[row], found.vector, found.dense, found.sparse)
            for rank, row in enumerate(ranked[:k], start=1)
        ]

    def _dedupe(self, ranked: Sequence[int], limit: int) -> list[int]:
        kept: list[int] = []
        shingles: list[frozenset[str]] = []
        for row in ranked:
            candidate = _shingles(self.index.chunks[row].text)
            if any(len(candidate & s) / max(1, len(candidate | s)) >= self.config.duplicate_jaccard for s in shingles):
                continue
            kept.append(row)
            shingles.append(candidate)
            if len(kept) >= limit:
                break
        return kept

    def _cover_districts(self, ranked: list[int], named: Sequence[str]) -> list[int]:
        """A question about two districts gets each one's best passage before the rest, in rank order."""
        firsts = []
        for district in named:
            best = next((r for r in ranked if district in self.index.chunks[r].districts and r not in firsts), None)
            if best is not None:
                firsts.append(best)
        leading = sorted(firsts, key=ranked.index)
        return leading + [r for r in ranked if r not in leading]

    def _passage(
        self,
        rank: int,
        row: int,
        score: float,
        query_vector: np.ndarray | None,
        dense: Mapping[int, float],
        sparse: Mapping[int, float],
    ) -> Passage:
        chunk = self.index.chunks[row]
        cosine = dense.get(row)
        if cosine is None and query_vector is not None:
            cosine = float(self.index.vectors.reconstruct(row) @ query_vector)
        return Passage(
            rank, score, row, chunk, self.index.articles[chunk.article_id], cosine or 0.0, sparse.get(row, 0.0)
        )
