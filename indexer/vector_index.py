"""Which vector index a segment gets, how it is built, and how one segment is searched.

Every segment keeps its vectors as a float32 `.npy` (memory-mapped; the source of truth for merges and exact
cosines). Below `ann_threshold` rows a segment is searched exactly, a matrix-vector product over the mapped
vectors; from it up, compaction also builds an approximate FAISS index (IVF by default), stored beside the vectors
and memory-mapped too, so several server processes share one copy of its pages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ANN_FILE = "ann.faiss"
FLAT = "Flat"


@dataclass(frozen=True)
class VectorIndexSettings:
    """`kind`: "auto" (exact below `ann_threshold` rows per segment, IVF above) or any FAISS factory string
    (e.g. "IVF4096,Flat", "HNSW32"; "Flat" keeps every segment exact)."""

    kind: str = "auto"
    ann_threshold: int = 50_000
    # Lists probed per query. Measured by bench/bench_scale.py: see the README for recall against exact search.
    nprobe: int = 64
    # Vectors sampled to train IVF centroids (FAISS wants 39-256 per list).
    train_per_list: int = 64

    def factory(self, rows: int) -> str:
        if self.kind != "auto":
            return self.kind
        if rows < self.ann_threshold:
            return FLAT
        # About 4 * sqrt(n) lists, a power of two: FAISS's guideline for IVF on up to a few million vectors.
        nlist = 2 ** round(math.log2(4 * math.sqrt(rows)))
        return f"IVF{nlist},Flat"


def build_ann(vectors: np.ndarray, factory: str, settings: VectorIndexSettings, directory: Path) -> None:
    """Train and fill an approximate index over `vectors` (row i gets id i) and write it to `directory`."""
    import faiss

    index = faiss.index_factory(vectors.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        nlist = getattr(faiss.extract_index_ivf(index), "nlist", 1) if "IVF" in factory else 256
        sample = min(len(vectors), max(nlist * settings.train_per_list, 10_000))
        # A fixed, evenly spaced sample: the same vectors give the same centroids on every run.
        picks = np.linspace(0, len(vectors) - 1, sample).astype(np.int64)
        index.train(np.ascontiguousarray(vectors[picks], dtype=np.float32))
    for begin in range(0, len(vectors), 65_536):
        index.add(np.ascontiguousarray(vectors[begin : begin + 65_536], dtype=np.float32))
    faiss.write_index(index, str(directory / ANN_FILE))


@dataclass(frozen=True)
class DenseSegment:
    """Exact or approximate top-n inner product over one segment's vectors, skipping rows a mask excludes."""

    vectors: np.ndarray  # (rows, dim) float32, usually memory-mapped
    ann: Any = None  # a FAISS index over the same rows, or None for exact search

    @classmethod
    def open(cls, directory: Path, vectors: np.ndarray) -> DenseSegment:
        path = directory / ANN_FILE
        if not path.exists():
            return cls(vectors)
        import faiss

        return cls(vectors, faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY))

    def search(
        self, query: np.ndarray, n: int, allowed: np.ndarray | None, nprobe: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(local rows, scores), best first; `allowed` is a bool mask over rows (None: every row)."""
        rows = len(self.vectors)
        n = min(n, rows)
        if n <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if self.ann is None:
            return self._exact(query, n, allowed)
        if allowed is not None and (selected := np.flatnonzero(allowed)).size <= self._exact_limit(n, nprobe):
            # A narrow filter: the probed lists would hold too few allowed rows, and scoring just those is cheap.
            scores = self.vectors[selected] @ query.astype(np.float32)
            top = np.argsort(-scores, kind="stable")[:n]
            return selected[top].astype(np.int64), scores[top]
        import faiss

        params = faiss.SearchParametersIVF(nprobe=nprobe) if hasattr(self.ann, "nprobe") else None
        if allowed is not None:
            bits = np.packbits(allowed, bitorder="little")
            selector = faiss.IDSelectorBitmap(rows, faiss.swig_ptr(bits))
            if params is None:
                params = faiss.SearchParameters()
            params.sel = selector
        scores, ids = self.ann.search(query[None, :].astype(np.float32), n, params=params)
        keep = ids[0] >= 0
        return ids[0][keep].astype(np.int64), scores[0][keep]

    def _exact_limit(self, n: int, nprobe: int) -> int:
        """Below this many allowed rows, filtered search is exact: IVF would find about count * nprobe / nlist of
        them in the lists it probes, and we want twice the n asked for."""
        nlist = getattr(self.ann, "nlist", 0)
        return int(2 * n * nlist / max(1, nprobe)) if nlist else 10_000

    def _exact(self, query: np.ndarray, n: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        scores = self.vectors @ query.astype(np.float32)
        if allowed is not None:
            scores = np.where(allowed, scores, -np.inf).astype(np.float32)
            n = min(n, int(np.count_nonzero(allowed)))
            if n == 0:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return top.astype(np.int64), scores[top]

    def cosines(self, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
        return self.vectors[rows] @ query.astype(np.float32)
