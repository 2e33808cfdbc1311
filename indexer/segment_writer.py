"""Writing a new segment: the articles one indexing run adds, with their passages' vectors and tokens.

A segment is written into a temporary directory and renamed into place only when complete, so a killed writer
leaves at most a `*.tmp` directory that the next writer removes.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.postings import Postings
from indexer.records import Article, Chunk
from indexer.segment import (
    ARTICLE_BM25_DIR,
    BM25_DIR,
    CHUNK_ARTICLE,
    DATABASE,
    DISTRICTS,
    REPRINT_BANDS,
    VECTORS,
    SegmentMeta,
)
from indexer.serialize import INDEXES, SCHEMA, article_row, chunk_row, insert_rows
from indexer.vector_index import FLAT, VectorIndexSettings, build_ann


@dataclass(frozen=True)
class SourceRecord:
    """A corpus file as indexed: what identifies its content, and the articles it yielded."""

    path: str
    file_hash: str
    size: int
    mtime_ns: int
    article_ids: tuple[str, ...]


@dataclass(frozen=True)
class NewArticle:
    source_path: str
    article: Article
    chunks: tuple[Chunk, ...]
    tokens: tuple[tuple[str, ...], ...]  # BM25 tokens, one tuple per chunk


def fsync_tree(directory: Path) -> None:
    for path in [*directory.rglob("*"), directory]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def finish_segment(
    directory: Path,
    meta: SegmentMeta,
    chunk_article: np.ndarray,
    postings: Postings,
    districts: dict[str, np.ndarray],
    settings: VectorIndexSettings,
) -> SegmentMeta:
    """Everything derived from the rows (article postings, ANN index), then the metadata and a sync."""
    postings.save(directory / BM25_DIR)
    postings.grouped(chunk_article, meta.articles).save(directory / ARTICLE_BM25_DIR)
    np.save(directory / CHUNK_ARTICLE, chunk_article.astype(np.int32))
    np.savez(directory / DISTRICTS, **{name: rows.astype(np.int32) for name, rows in districts.items()})
    factory = settings.factory(meta.rows)
    if factory != FLAT and meta.rows:
        build_ann(np.load(directory / VECTORS, mmap_mode="r"), factory, settings, directory)
    else:
        factory = FLAT
    meta = SegmentMeta(**{**meta.__dict__, "vector_index": factory})
    meta.write(directory)
    fsync_tree(directory)
    return meta


def write_segment(
    directory: Path,
    name: str,
    base: int,
    article_base: int,
    sources: Sequence[SourceRecord],
    articles: Sequence[NewArticle],
    vectors: np.ndarray,
    settings: VectorIndexSettings,
    reprint_bands: np.ndarray | None = None,
) -> SegmentMeta:
    """`vectors` (and `reprint_bands`, indexer.reprints) hold one row per chunk, in the order the articles and their
    chunks are given."""
    directory.mkdir(parents=True)
    local_article = {item.article.article_id: i for i, item in enumerate(articles)}
    conn = sqlite3.connect(directory / DATABASE)
    try:
        conn.executescript(SCHEMA)
        insert_rows(
            conn,
            "sources",
            [
                (i, s.path, s.file_hash, s.size, s.mtime_ns, json.dumps([local_article[a] for a in s.article_ids]))
                for i, s in enumerate(sources)
            ],
        )
        insert_rows(conn, "articles", [article_row(i, a.article, a.source_path) for i, a in enumerate(articles)])
        chunk_rows, chunk_article, by_district = [], [], {}
        for article_local, item in enumerate(articles):
            for chunk in item.chunks:
                row = len(chunk_rows)
                chunk_rows.append(chunk_row(row, article_local, chunk))
                chunk_article.append(article_local)
                for district in chunk.districts:
                    by_district.setdefault(district, []).append(row)
        insert_rows(conn, "chunks", chunk_rows)
        conn.executescript(INDEXES)
        conn.commit()
    finally:
        conn.close()
    rows = len(chunk_article)
    dim = int(vectors.shape[1]) if vectors.ndim == 2 else 0
    np.save(directory / VECTORS, np.ascontiguousarray(vectors, dtype=np.float32).reshape(rows, dim))
    bands = reprint_bands if reprint_bands is not None else np.zeros((rows, 0), np.uint64)
    np.save(directory / REPRINT_BANDS, np.ascontiguousarray(bands, dtype=np.uint64))
    postings = Postings.build(tokens for item in articles for tokens in item.tokens)
    meta = SegmentMeta(name, base, article_base, rows, len(articles), dim, FLAT)
    districts = {d: np.asarray(r, np.int32) for d, r in by_district.items()}
    return finish_segment(directory, meta, np.asarray(chunk_article, np.int32), postings, districts, settings)
