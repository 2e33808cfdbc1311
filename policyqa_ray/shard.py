"""One shard: the segments of a generation assigned to it, scored with corpus-wide BM25 statistics.

Segments are the shard unit. Every shard and the driver compute the same assignment from the generation's manifest
(largest segments first, each to the least-loaded shard), so a restarted shard needs nothing but the generation
name to serve its part again. Row ids and article numbers are global in every segment, so what a shard returns
needs no translation.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from indexer.bm25 import CorpusBm25, CorpusStats
from indexer.date_rows import date_masks
from indexer.manifest import Manifest
from indexer.reader import IndexView, SparseScores, top_positive
from indexer.records import Article, Chunk
from indexer.segment import Segment, SegmentMeta
from indexer.sparse import SparseSettings
from indexer.store import IndexNotFoundError, Lease, manifest_path, segment_dir
from server.time_filter import both

Scored = tuple[int, list[int], list[float]]  # (segment position in the generation, global ids, scores)


def assign(rows: list[int], shards: int) -> list[int]:
    """The shard of each segment: largest first, each to the shard with the fewest rows so far (ties: lowest)."""
    load = [0] * shards
    owner = [0] * len(rows)
    for position in sorted(range(len(rows)), key=lambda p: (-rows[p], p)):
        shard = min(range(shards), key=lambda s: (load[s], s))
        owner[position] = shard
        load[shard] += rows[position] + 1
    return owner


def segment_metas(index_dir: Path, manifest: Manifest) -> list[SegmentMeta]:
    return [SegmentMeta.read(segment_dir(index_dir, str(ref["name"]))) for ref in manifest.segments]


@dataclass(frozen=True)
class ShardInfo:
    positions: tuple[int, ...]
    passages: CorpusStats
    articles: CorpusStats


@dataclass(frozen=True)
class ShardQuery:
    """One query as every shard sees it: the driver's embedding, tokens and the corpus-wide statistics."""

    generation: str
    vector: np.ndarray | None
    tokens: tuple[str, ...]
    passage_df: dict[str, int]
    article_df: dict[str, int]
    passages: CorpusStats
    articles: CorpusStats
    district: str | None  # hard filter
    named: tuple[str, ...]  # districts the query names (boosted, not filtered)
    sparse: bool  # BM25 is scored (every mode but dense)
    complete: bool  # fusion modes: candidates get both scores
    with_articles: bool
    n: int
    prefetch: int = 10  # chunks of this many best dense and BM25 rows come back with the candidates
    # The date filter as (first day, last day, include undated): proleptic ordinals, None: open (server.time_filter).
    dates: tuple[int | None, int | None, bool] | None = None


@dataclass(frozen=True)
class ShardCandidates:
    dense: list[Scored]
    sparse: list[Scored]
    articles: list[Scored]
    bm25_of: dict[int, float]  # BM25 (above zero) of this shard's dense candidates
    cosine_of: dict[int, float]  # cosine of this shard's BM25 candidates
    article_of: dict[int, int]  # article number of every candidate
    tagged: dict[str, set[int]]  # candidates tagged with each named district
    chunks: dict[int, Chunk]  # of the rows most likely to be returned (saves the ranking a round trip)


@dataclass
class ShardView:
    index: IndexView  # over this shard's segments only
    positions: tuple[int, ...]
    sparse: SparseSettings
    _scorers: dict[tuple[CorpusStats, CorpusStats], tuple[CorpusBm25, CorpusBm25]] = field(default_factory=dict)

    def info(self) -> ShardInfo:
        passages = CorpusStats.of(self.index.bm25.parts)
        articles = CorpusStats.of(self.index.article_bm25.parts)
        return ShardInfo(self.positions, passages, articles)

    def frequencies(self, tokens: list[str]) -> tuple[dict[str, int], dict[str, int]]:
        return (
            {t: self.index.bm25.frequency(t) for t in tokens},
            {t: self.index.article_bm25.frequency(t) for t in tokens},
        )

    def scorers(self, passages: CorpusStats, articles: CorpusStats) -> tuple[CorpusBm25, CorpusBm25]:
        """BM25 over this shard's documents with the whole corpus's statistics (built once per generation)."""
        key = (passages, articles)
        found = self._scorers.get(key)
        if found is None:
            found = self._scorers[key] = (
                CorpusBm25(self.index.bm25.parts, self.sparse, passages),
                CorpusBm25(self.index.article_bm25.parts, self.sparse, articles),
            )
        return found

    def candidates(self, q: ShardQuery) -> ShardCandidates:
        """`server.retrieval.Retriever.candidates`, per segment, left uncut: the driver merges segment lists in
        generation order and cuts, which gives the single-node lists, ties included."""
        view = self.index
        allowed = view.district_masks(q.district) if q.district else None
        if q.dates is not None:
            allowed = both(allowed, date_masks(view, *q.dates))
        dense: list[Scored] = []
        if q.vector is not None:
            masks = allowed if allowed is not None else view.live
            parts = zip(self.positions, view.segments, view.bases.tolist(), masks, strict=True)
            for position, segment, base, mask in parts:
                if mask is not None and not mask.any():
                    continue
                rows, scores = segment.dense.search(q.vector, q.n, mask, view.nprobe)
                dense.append((position, (rows + base).tolist(), scores.tolist()))
        passage_bm25, article_bm25 = self.scorers(q.passages, q.articles)
        sparse: list[Scored] = []
        bm25: SparseScores | None = None
        if q.sparse:
            scores = passage_bm25.scores(q.tokens, q.passage_df)
            if allowed is not None:
                scores = [s if m is None else np.where(m, s, 0.0) for s, m in zip(scores, allowed, strict=True)]
            bm25 = SparseScores(view.bases, scores)
            for position, base, part in zip(self.positions, view.bases.tolist(), scores, strict=True):
                best = top_positive(part, q.n)
                sparse.append((position, (best + base).tolist(), part[best].tolist()))
        dense_rows = sorted({r for _, rows, _ in dense for r in rows})
        sparse_rows = sorted({r for _, rows, _ in sparse for r in rows})
        bm25_of, cosine_of = {}, {}
        if q.complete and q.vector is not None and bm25 is not None:
            bm25_of = bm25.get(dense_rows)
            cosine_of = view.cosines(sparse_rows, q.vector)
        articles: list[Scored] = []
        if q.with_articles:
            article_scores = article_bm25.scores(q.tokens, q.article_df)
            for position, base, part in zip(self.positions, view.article_bases.tolist(), article_scores, strict=True):
                best = top_positive(part, q.n)
                articles.append((position, (best + base).tolist(), part[best].tolist()))
        rows = sorted(set(dense_rows) | set(sparse_rows))
        tagged = {d: view.rows_in_district(rows, d) for d in q.named}
        likely = {*_best(dense, q.prefetch), *_best(sparse, q.prefetch)}
        numbers = view.article_numbers(rows)
        return ShardCandidates(
            dense, sparse, articles, bm25_of, cosine_of, numbers, tagged, view.chunks(sorted(likely))
        )


def _best(lists: list[Scored], n: int) -> list[int]:
    found = sorted(((score, row) for _, rows, scores in lists for row, score in zip(rows, scores, strict=True)),
                   key=lambda item: -item[0])  # fmt: skip
    return [row for _, row in found[:n]]


class ShardState:
    """The generations a shard has open (the live one and the one before, for requests still finishing on it)."""

    def __init__(self, index_dir: Path, shard: int, shards: int, nprobe: int | None = None, keep: int = 2) -> None:
        self.index_dir, self.shard, self.shards, self.nprobe, self.keep = index_dir, shard, shards, nprobe, keep
        self.views: OrderedDict[str, ShardView] = OrderedDict()
        self._lock = threading.Lock()

    def view(self, generation: str) -> ShardView:
        with self._lock:
            found = self.views.get(generation)
            if found is None:
                found = self.views[generation] = self._open(generation)
                while len(self.views) > self.keep:
                    self.views.popitem(last=False)[1].index.close()
            return found

    def release(self, generation: str) -> None:
        with self._lock:
            found = self.views.pop(generation, None)
        if found is not None:
            found.index.close()

    def _open(self, generation: str) -> ShardView:
        import faiss

        faiss.omp_set_num_threads(1)
        lease = Lease(self.index_dir, generation)
        try:
            path = manifest_path(self.index_dir, generation)
            if not path.exists():
                raise IndexNotFoundError(f"generation {generation} is no longer on disk at {self.index_dir}")
            manifest = Manifest.load(path)
            owners = assign([m.rows for m in segment_metas(self.index_dir, manifest)], self.shards)
            positions = tuple(p for p, owner in enumerate(owners) if owner == self.shard)
            refs = [manifest.segments[p] for p in positions]
            cache = {s.name: s for v in self.views.values() for s in v.index.segments}
            segments = [
                cache.get(str(ref["name"])) or Segment(segment_dir(self.index_dir, str(ref["name"]))) for ref in refs
            ]
            index = IndexView(self.index_dir, generation, replace(manifest, segments=refs), segments, lease)
            if self.nprobe is not None:
                index.nprobe = self.nprobe
        except BaseException:
            lease.release()
            raise
        return ShardView(index, positions, SparseSettings(**(manifest.sparse or {})))


class ShardActor:
    """The Ray actor around a ShardState (`ray.remote` is applied where it is started, in policyqa_ray.group)."""

    def __init__(self, index_dir: str, shard: int, shards: int, nprobe: int | None = None) -> None:
        self.state = ShardState(Path(index_dir), shard, shards, nprobe)

    def pid(self) -> int:
        import os

        return os.getpid()

    def open(self, generation: str) -> ShardInfo:
        return self.state.view(generation).info()

    def release(self, generation: str) -> None:
        self.state.release(generation)

    def frequencies(self, generation: str, tokens: list[str]) -> tuple[dict[str, int], dict[str, int]]:
        return self.state.view(generation).frequencies(tokens)

    def candidates(self, query: ShardQuery) -> ShardCandidates:
        return self.state.view(query.generation).candidates(query)

    def texts(self, generation: str, rows: list[int]) -> dict[int, str]:
        return self.state.view(generation).index.texts(rows)

    def fetch(
        self, generation: str, rows: list[int], numbers: list[int]
    ) -> tuple[dict[int, Chunk], dict[int, Article]]:
        """Chunks of `rows` and articles by number, in one round trip."""
        index = self.state.view(generation).index
        return index.chunks(rows), {n: index.article_by_number(n) for n in numbers}

    def article_by_number(self, generation: str, number: int) -> Article:
        return self.state.view(generation).index.article_by_number(number)

    def article(self, generation: str, article_id: str) -> Article | None:
        return self.state.view(generation).index.article(article_id)

    def cosines(self, generation: str, rows: list[int], vector: np.ndarray) -> dict[int, float]:
        return self.state.view(generation).index.cosines(rows, vector)

    def article_numbers(self, generation: str, rows: list[int]) -> dict[int, int]:
        return self.state.view(generation).index.article_numbers(rows)

    def reprint_groups(self, generation: str, rows: list[int]) -> dict[int, str]:
        return self.state.view(generation).index.reprint_groups(rows)

    def row_days(self, generation: str, rows: list[int]) -> dict[int, tuple[int, int]]:
        return self.state.view(generation).index.row_days(rows)

    def reprint_members(self, generation: str, groups: list[str]) -> dict[str, list[int]]:
        """Rows of these reprint groups in this shard's segments (copies may sit in any shard)."""
        return self.state.view(generation).index.reprint_members(groups)
