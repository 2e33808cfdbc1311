"""One published generation, opened for reading: its segments, tombstones and corpus-wide BM25 statistics.

Row ids are global (`segment base + local row`) and stable for as long as the segment lives. The view holds no
texts in Python objects: chunks and articles are read from the segments' SQLite stores when a caller asks for
them, vectors and postings are memory-mapped. A view holds a lease on its generation until `close()`, so a
writer never deletes files it is still reading.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from indexer.bm25 import CorpusBm25, LivePostings
from indexer.manifest import Manifest
from indexer.records import Article, Chunk
from indexer.segment import Segment
from indexer.sparse import SparseSettings
from indexer.store import Lease, acquire, manifest_path, segment_dir
from indexer.tombstones import read_deletes

T = TypeVar("T")
RowMasks = list[np.ndarray | None]  # per segment: bool mask of allowed rows (None: every live row)


class IndexView:
    def __init__(
        self, directory: Path, generation: str, manifest: Manifest, segments: Sequence[Segment], lease: Lease | None
    ) -> None:
        self.directory = directory
        self.generation = generation
        self.manifest = manifest
        self.segments = tuple(segments)
        self.bases = np.asarray([s.meta.base for s in self.segments], np.int64)
        self.article_bases = np.asarray([s.meta.article_base for s in self.segments], np.int64)
        self.dead_articles: list[np.ndarray | None] = []
        self.dead_sources: list[np.ndarray] = []
        self.live: RowMasks = []
        for segment, ref in zip(self.segments, manifest.segments, strict=True):
            articles, sources = read_deletes(segment.directory, ref.get("deletes"), segment.meta.articles)
            self.dead_articles.append(articles)
            self.dead_sources.append(sources)
            self.live.append(None if articles is None else ~articles[segment.chunk_article])
        sparse = SparseSettings(**(manifest.sparse or {}))
        self.bm25 = CorpusBm25(
            [
                LivePostings(s.postings, None if m is None else ~m)
                for s, m in zip(self.segments, self.live, strict=True)
            ],
            sparse,
        )
        self.article_bm25 = CorpusBm25(
            [LivePostings(s.article_postings, d) for s, d in zip(self.segments, self.dead_articles, strict=True)],
            sparse,
        )
        self.nprobe = int(manifest.vector_index.get("nprobe", 64))
        self._districts: dict[str, RowMasks] = {}
        self._lease = lease
        self._finalizer = weakref.finalize(self, lease.release) if lease else None

    @classmethod
    def open(cls, index_dir: Path, cache: Mapping[str, Segment] | None = None, nprobe: int | None = None) -> IndexView:
        """Lease and open the live generation; segments already open in `cache` are reused, not re-read.
        `nprobe` overrides the lists an IVF search probes (default: what the index was built with)."""
        import faiss

        # One thread per query: with the cores shared by concurrent requests, FAISS's default team is slower.
        faiss.omp_set_num_threads(1)
        generation, lease = acquire(index_dir)
        try:
            manifest = Manifest.load(manifest_path(index_dir, generation))
            cache = cache or {}
            segments = [
                cache.get(str(ref["name"])) or Segment(segment_dir(index_dir, str(ref["name"])))
                for ref in manifest.segments
            ]
            view = cls(index_dir, generation, manifest, segments, lease)
            if nprobe is not None:
                view.nprobe = nprobe
            return view
        except BaseException:
            lease.release()
            raise

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> IndexView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def article_count(self) -> int:
        return self.manifest.articles

    @property
    def chunk_count(self) -> int:
        return self.manifest.chunks

    def _split(self, rows: Sequence[int]) -> dict[int, list[int]]:
        """Global rows grouped by segment position, as local rows."""
        grouped: dict[int, list[int]] = {}
        if not len(rows):
            return grouped
        if len(self.bases) == 1:  # one segment (a compacted index): no search needed
            base = int(self.bases[0])
            return {0: [int(row) - base for row in rows]}
        positions = np.searchsorted(self.bases, np.asarray(rows, np.int64), side="right") - 1
        for row, position in zip(rows, positions.tolist(), strict=True):
            grouped.setdefault(position, []).append(int(row) - int(self.bases[position]))
        return grouped

    def _per_row(self, rows: Sequence[int], read: Callable[[Segment, list[int]], dict[int, T]]) -> dict[int, T]:
        """`read(segment, local rows)` for each segment holding some of `rows`, keyed by global row."""
        found: dict[int, T] = {}
        for position, locals_ in self._split(rows).items():
            base = int(self.bases[position])
            found.update((base + local, value) for local, value in read(self.segments[position], locals_).items())
        return found

    def chunks(self, rows: Sequence[int]) -> dict[int, Chunk]:
        return self._per_row(rows, Segment.chunks)

    def texts(self, rows: Sequence[int]) -> dict[int, str]:
        """Just the passage texts (what duplicate detection compares), cheaper than whole chunks."""
        return self._per_row(rows, Segment.texts)

    def reprint_groups(self, rows: Sequence[int]) -> dict[int, str]:
        """Each row's reprint group (indexer.reprints): rows of one group hold the same text."""
        return self._per_row(rows, Segment.reprint_groups)

    def reprint_members(self, groups: Sequence[str]) -> dict[str, list[int]]:
        """Live rows of each reprint group (indexer.reprint_rows), in index order."""
        from indexer.reprint_rows import group_members

        return group_members(self, groups)

    def row_days(self, rows: Sequence[int]) -> dict[int, tuple[int, int]]:
        """(first, last) day of each dated row's article (indexer.date_rows); undated rows are left out."""
        from indexer.date_rows import row_days

        return row_days(self, rows)

    def article_numbers(self, rows: Sequence[int]) -> dict[int, int]:
        """Global article number of each row: what the fusion's article term groups passages by."""
        found: dict[int, int] = {}
        for position, locals_ in self._split(rows).items():
            segment = self.segments[position]
            numbers = segment.chunk_article[np.asarray(locals_, np.int64)] + int(self.article_bases[position])
            base = int(self.bases[position])
            found.update(zip((base + x for x in locals_), numbers.tolist(), strict=True))
        return found

    def article(self, article_id: str) -> Article | None:
        for segment, dead in zip(reversed(self.segments), reversed(self.dead_articles), strict=True):
            found = segment.find_article(article_id)
            if found is not None and (dead is None or not dead[found[0]]):
                return found[1]
        return None

    def article_by_number(self, number: int) -> Article:
        position = int(np.searchsorted(self.article_bases, number, side="right") - 1)
        return self.segments[position].article(number - int(self.article_bases[position]))

    def iter_articles(self) -> Iterator[Article]:
        for segment, dead in zip(self.segments, self.dead_articles, strict=True):
            for local, article in segment.iter_articles():
                if dead is None or not dead[local]:
                    yield article

    def iter_chunks(self) -> Iterator[tuple[int, Chunk]]:
        for segment, live in zip(self.segments, self.live, strict=True):
            for local, chunk in segment.iter_chunks():
                if live is None or live[local]:
                    yield segment.meta.base + local, chunk

    def district_masks(self, district: str) -> RowMasks:
        """Live rows tagged with `district`, per segment; computed once per generation from the stored row lists."""
        masks = self._districts.get(district)
        if masks is None:
            masks = []
            for segment, live in zip(self.segments, self.live, strict=True):
                mask = np.zeros(segment.meta.rows, bool)
                mask[segment.districts.get(district, np.zeros(0, np.int32))] = True
                masks.append(mask if live is None else mask & live)
            self._districts[district] = masks
        return masks

    def rows_in_district(self, rows: Sequence[int], district: str) -> set[int]:
        tagged = set()
        for position, locals_ in self._split(rows).items():
            listed = self.segments[position].districts.get(district)
            if listed is None:
                continue
            hits = np.isin(np.asarray(locals_, np.int32), listed)
            base = int(self.bases[position])
            tagged.update(base + x for x, hit in zip(locals_, hits.tolist(), strict=True) if hit)
        return tagged

    def dense(self, vector: np.ndarray, n: int, allowed: RowMasks | None = None) -> dict[int, float]:
        """Top-n cosines over all segments (approximate in segments that have an ANN index)."""
        masks = allowed if allowed is not None else self.live
        found: list[tuple[float, int]] = []
        for segment, base, mask in zip(self.segments, self.bases.tolist(), masks, strict=True):
            if mask is not None and not mask.any():
                continue
            rows, scores = segment.dense.search(vector, n, mask, self.nprobe)
            found.extend(zip(scores.tolist(), (base + r for r in rows.tolist()), strict=True))
        found.sort(key=lambda item: -item[0])
        return {row: score for score, row in found[:n]}

    def cosines(self, rows: Sequence[int], vector: np.ndarray) -> dict[int, float]:
        found: dict[int, float] = {}
        for position, locals_ in self._split(rows).items():
            scores = self.segments[position].dense.cosines(np.asarray(locals_, np.int64), vector)
            base = int(self.bases[position])
            found.update(zip((base + x for x in locals_), scores.tolist(), strict=True))
        return found

    def sparse(self, tokens: Sequence[str], allowed: RowMasks | None = None) -> SparseScores:
        scores = self.bm25.scores(tokens)
        if allowed is not None:
            scores = [s if m is None else np.where(m, s, 0.0) for s, m in zip(scores, allowed, strict=True)]
        return SparseScores(self.bases, scores)

    def article_scores(self, tokens: Sequence[str], n: int) -> dict[int, float]:
        return SparseScores(self.article_bases, self.article_bm25.scores(tokens)).top(n)


class SparseScores:
    """BM25 scores of every row of every segment, for one query."""

    def __init__(self, bases: np.ndarray, scores: list[np.ndarray]) -> None:
        self.bases = bases
        self.scores = scores

    def top(self, n: int) -> dict[int, float]:
        found: list[tuple[float, int]] = []
        for base, scores in zip(self.bases.tolist(), self.scores, strict=True):
            best = top_positive(scores, n)
            found.extend(zip(scores[best].tolist(), (base + r for r in best.tolist()), strict=True))
        found.sort(key=lambda item: -item[0])
        return {row: score for score, row in found[:n]}

    def get(self, rows: Sequence[int]) -> dict[int, float]:
        """Scores of the given rows that are above zero."""
        found: dict[int, float] = {}
        if not len(rows):
            return found
        positions = np.searchsorted(self.bases, np.asarray(rows, np.int64), side="right") - 1
        for row, position in zip(rows, positions.tolist(), strict=True):
            score = float(self.scores[position][int(row) - int(self.bases[position])])
            if score > 0:
                found[int(row)] = score
        return found


def top_positive(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n largest scores above zero (unordered), exactly, without sorting a million-row array.

    A strided sample gives a threshold that about 4n + 10 scores exceed; if at least n reach it, the top n are among
    them (anything below the threshold is below all of them). Otherwise fall back to every positive score."""
    if n <= 0 or not len(scores):
        return np.zeros(0, np.int64)
    if len(scores) > 50 * n:
        step = max(1, len(scores) // 20_000)
        sampled = len(scores[::step])
        sample = scores[::step]
        sample = sample[sample > 0]  # zeros are most of it, and many equal values slow the selection down
        keep = int(4 * n * sampled / len(scores)) + 10
        if len(sample) > keep:
            threshold = float(np.partition(sample, len(sample) - keep)[len(sample) - keep])
            above = np.flatnonzero(scores >= threshold)
            if len(above) >= n:
                return above[np.argpartition(-scores[above], n - 1)[:n]]
    positive = np.flatnonzero(scores > 0)
    if len(positive) > n:
        positive = positive[np.argpartition(-scores[positive], n - 1)[:n]]
    return positive


def load_index(index_dir: Path) -> IndexView:
    """The live generation of the index at `index_dir` (the caller closes it, or lets it be collected)."""
    return IndexView.open(index_dir)
