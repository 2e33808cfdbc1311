"""Load the live index generation into memory once: articles, chunks, FAISS vectors and BM25."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.manifest import Manifest
from indexer.records import Article, Chunk
from indexer.serialize import ARTICLE_COLUMNS, CHUNK_COLUMNS, article_from_row, chunk_from_row
from indexer.sparse import SparseIndex
from indexer.store import ARTICLE_BM25_DIR, BM25_DIR, DATABASE, MANIFEST, VECTORS, require_generation


@dataclass(frozen=True)
class LoadedIndex:
    """Everything retrieval needs, in memory, so a later re-index cannot change it under a running server."""

    directory: Path
    generation: Path
    manifest: Manifest
    articles: Mapping[str, Article]
    chunks: Mapping[int, Chunk]  # keyed by row id, which is also the FAISS id and BM25's row id
    vectors: Any  # faiss.IndexIDMap2 over inner product
    sparse: SparseIndex
    article_sparse: SparseIndex  # whole articles; `keys` holds their ids


def load_index(index_dir: Path) -> LoadedIndex:
    import faiss

    generation = require_generation(index_dir)
    manifest = Manifest.load(generation / MANIFEST)
    conn = sqlite3.connect(f"file:{generation / DATABASE}?mode=ro", uri=True)
    try:
        articles = {row[0]: article_from_row(row) for row in conn.execute(f"SELECT {ARTICLE_COLUMNS} FROM articles")}
        chunks = dict(chunk_from_row(row) for row in conn.execute(f"SELECT {CHUNK_COLUMNS} FROM chunks ORDER BY id"))
    finally:
        conn.close()
    vectors = faiss.read_index(str(generation / VECTORS))
    sparse = SparseIndex.load(generation / BM25_DIR)
    article_sparse = SparseIndex.load(generation / ARTICLE_BM25_DIR)
    return LoadedIndex(index_dir, generation, manifest, articles, chunks, vectors, sparse, article_sparse)
