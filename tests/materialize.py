"""Tests compare whole indexes: read every article, chunk and vector of a generation into plain dicts.

The server never does this (it reads only what it returns); tests on five articles can afford it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.manifest import Manifest
from indexer.reader import IndexView, load_index
from indexer.records import Article, Chunk


@dataclass(frozen=True)
class Materialized:
    generation: str
    manifest: Manifest
    articles: dict[str, Article]
    chunks: dict[int, Chunk]
    vectors: dict[int, np.ndarray]
    bm25_documents: int

    def vector(self, row: int) -> np.ndarray:
        return self.vectors[row]


def materialize(index: IndexView | Path) -> Materialized:
    view = load_index(index) if isinstance(index, Path) else index
    try:
        chunks = dict(view.iter_chunks())
        vectors = {}
        for segment, live in zip(view.segments, view.live, strict=True):
            for local in range(segment.meta.rows):
                if live is None or live[local]:
                    vectors[segment.meta.base + local] = np.asarray(segment.dense.vectors[local])
        articles = {a.article_id: a for a in view.iter_articles()}
        return Materialized(view.generation, view.manifest, articles, chunks, vectors, view.bm25.documents)
    finally:
        if isinstance(index, Path):
            view.close()
