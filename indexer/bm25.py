"""Corpus-wide BM25 over the live documents of several segments.

Scores use the statistics of the whole live corpus (document count, average length, each term's document
frequency, all without deleted documents), computed from the segments' raw postings at query time, so an index
of many segments with tombstones scores every document exactly as one freshly built index of the same documents
would. The formula is bm25s's default ("lucene": idf = ln(1 + (N - df + 0.5) / (df + 0.5)), tf / (tf + k1 *
(1 - b + b * len / avglen))), in float32 like bm25s, so the eval tables stay where they were.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from indexer.postings import Postings
from indexer.sparse import SparseSettings


@dataclass(frozen=True)
class LivePostings:
    """A segment's postings and which of its documents are live (None: all of them)."""

    postings: Postings
    dead: np.ndarray | None = None  # bool per document, True where deleted

    def live_count(self, docs: np.ndarray) -> int:
        if self.dead is None:
            return len(docs)
        return len(docs) - int(np.count_nonzero(self.dead[docs]))


@dataclass(frozen=True)
class CorpusStats:
    """Live document count and total token length: with the document frequencies, all BM25 needs of a corpus. A
    shard holding some segments sums these over all shards (policyqa_ray) to score like the whole index."""

    documents: int
    total_length: int

    @classmethod
    def of(cls, parts: Sequence[LivePostings]) -> CorpusStats:
        live_docs, total_length = 0, 0
        for part in parts:
            lengths = part.postings.lengths
            if part.dead is None:
                live_docs += len(lengths)
                total_length += int(lengths.sum(dtype=np.int64))
            else:
                live = ~part.dead
                live_docs += int(np.count_nonzero(live))
                total_length += int(lengths[live].sum(dtype=np.int64))
        return cls(live_docs, total_length)

    def __add__(self, other: CorpusStats) -> CorpusStats:
        return CorpusStats(self.documents + other.documents, self.total_length + other.total_length)


class CorpusBm25:
    """BM25 over a list of segments; `scores` returns one float32 array per segment, zero for dead documents.
    `stats` (default: these segments' own) and `scores(..., frequencies=)` let a subset of the corpus score with
    the statistics of the whole."""

    def __init__(
        self, parts: Sequence[LivePostings], settings: SparseSettings, stats: CorpusStats | None = None
    ) -> None:
        self.parts = tuple(parts)
        self.settings = settings
        stats = stats or CorpusStats.of(self.parts)
        live_docs, total_length = stats.documents, stats.total_length
        self.documents = live_docs
        average = total_length / live_docs if live_docs else 1.0
        k1, b = settings.k1, settings.b
        # Per-document length normalisation, as bm25s computes it (a float32 denominator term).
        self._norms = [
            (k1 * ((1 - b) + b * part.postings.lengths.astype(np.float64) / average)).astype(np.float32)
            for part in self.parts
        ]
        self._dead_rows = [np.flatnonzero(p.dead) if p.dead is not None else None for p in self.parts]

    def frequency(self, token: str) -> int:
        """How many live documents of these segments hold `token`."""
        df = 0
        for part in self.parts:
            found = part.postings.term(token)
            if found is not None:
                df += part.live_count(found[0])
        return df

    def idf(self, token: str, df: int | None = None) -> float | None:
        """None when no live document holds the token (a fresh index would not know it)."""
        df = self.frequency(token) if df is None else df
        if df == 0:
            return None
        return math.log(1 + (self.documents - df + 0.5) / (df + 0.5))

    def scores(self, tokens: Sequence[str], frequencies: Mapping[str, int] | None = None) -> list[np.ndarray]:
        out = [np.zeros(part.postings.documents, np.float32) for part in self.parts]
        idfs: dict[str, float | None] = {}
        for token in tokens:  # duplicates count again, as bm25s counts them
            if token not in idfs:
                idfs[token] = self.idf(token, None if frequencies is None else frequencies.get(token, 0))
            idf = idfs[token]
            if idf is None:
                continue
            weight = np.float32(idf)
            for part, norm, scores in zip(self.parts, self._norms, out, strict=True):
                found = part.postings.term(token)
                if found is None:
                    continue
                docs, tfs = found
                tf = tfs.astype(np.float32)
                scores[docs] += weight * (tf / (norm[docs] + tf))
        for scores, dead in zip(out, self._dead_rows, strict=True):
            if dead is not None and len(dead):
                scores[dead] = 0.0
        return out
