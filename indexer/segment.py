"""One immutable index segment on disk, opened for reading.

A segment holds the articles one indexing run added (or one merge produced): their texts in SQLite, passage
vectors, BM25 postings for passages and for whole articles, and per-district row lists. Nothing in it changes
after it is published; deletions live in tombstone files that later generations add beside it. Everything large
is memory-mapped or read from SQLite on demand, so a server's memory does not grow with the corpus texts.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from indexer.dates import ArticleDate
from indexer.postings import Postings
from indexer.records import Article, Chunk
from indexer.serialize import ARTICLE_COLUMNS, CHUNK_COLUMNS, article_from_row, chunk_from_row
from indexer.vector_index import DenseSegment

META = "segment.json"
DATABASE = "store.sqlite"
VECTORS = "vectors.npy"
CHUNK_ARTICLE = "chunk_article.npy"
DISTRICTS = "districts.npz"
BM25_DIR = "bm25"
ARTICLE_BM25_DIR = "bm25-articles"
REPRINT_BANDS = "reprint_bands.npy"  # LSH band keys per passage (indexer.reprints)


@dataclass(frozen=True)
class SegmentMeta:
    name: str
    base: int  # global row id of local row 0
    article_base: int  # global article number of local article 0
    rows: int
    articles: int
    dim: int
    vector_index: str  # "Flat" or the FAISS factory string of its approximate index

    def write(self, directory: Path) -> None:
        (directory / META).write_text(json.dumps(asdict(self)) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, directory: Path) -> SegmentMeta:
        return cls(**json.loads((directory / META).read_text(encoding="utf-8")))


class Segment:
    """Read access to one published segment. Safe to share between threads (one SQLite connection per thread)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.meta = SegmentMeta.read(directory)
        vectors = (
            np.load(directory / VECTORS, mmap_mode="r") if self.meta.rows else np.zeros((0, self.meta.dim), np.float32)
        )
        self.dense = DenseSegment.open(directory, vectors)
        self.chunk_article = np.load(directory / CHUNK_ARTICLE)
        self.postings = Postings.load(directory / BM25_DIR)
        self.article_postings = Postings.load(directory / ARTICLE_BM25_DIR)
        with np.load(directory / DISTRICTS) as stored:
            self.districts = {name: stored[name] for name in stored.files}
        self.reprint_bands = np.load(directory / REPRINT_BANDS, mmap_mode="r") if self.meta.rows else None
        self._local = threading.local()
        self._article_days: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def name(self) -> str:
        return self.meta.name

    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # immutable=1: SQLite skips locking and change detection, which a published segment never needs.
            uri = f"file:{self.directory / DATABASE}?mode=ro&immutable=1"
            conn = self._local.conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        return conn

    def _select_in(self, query: str, values: Sequence[object]) -> Iterator[tuple]:
        """Rows of `query`, whose `{marks}` is filled with placeholders for `values`, 500 at a time (SQLite caps
        the placeholders one statement may have)."""
        values = [int(v) if isinstance(v, np.integer) else v for v in values]
        for begin in range(0, len(values), 500):
            batch = values[begin : begin + 500]
            yield from self._db().execute(query.format(marks=",".join("?" * len(batch))), batch)

    def chunks(self, locals_: Sequence[int]) -> dict[int, Chunk]:
        query = f"SELECT {CHUNK_COLUMNS} FROM chunks c JOIN articles a ON a.id = c.article WHERE c.id IN ({{marks}})"
        return dict(chunk_from_row(row) for row in self._select_in(query, locals_))

    def article_days(self) -> tuple[np.ndarray, np.ndarray]:
        """(first, last) day each local article's date may mean, as proleptic ordinals; -1 where the date (or its
        year) is unknown. Read from SQLite once per segment: segments never change."""
        if self._article_days is None:
            first = np.full(self.meta.articles, -1, np.int32)
            last = np.full(self.meta.articles, -1, np.int32)
            query = (
                "SELECT id, date, date_precision FROM articles WHERE date IS NOT NULL AND date_precision != 'partial'"
            )
            for local, iso, precision in self._db().execute(query):
                span = ArticleDate(iso, precision).span()
                if span is not None:
                    first[local], last[local] = span[0].toordinal(), span[1].toordinal()
            self._article_days = (first, last)
        return self._article_days

    def reprint_groups(self, locals_: Sequence[int]) -> dict[int, str]:
        """Local row -> its reprint group (the chunk_id of the group's first passage, else its own chunk_id)."""
        query = "SELECT id, coalesce(reprint_of, chunk_id) FROM chunks WHERE id IN ({marks})"
        return {int(i): g for i, g in self._select_in(query, locals_)}

    def group_members(self, groups: Sequence[str]) -> Iterator[tuple[int, str]]:
        """(local row, group) of every passage in one of `groups`."""
        query = "SELECT id, reprint_of FROM chunks WHERE reprint_of IN ({marks})"
        yield from ((int(i), g) for i, g in self._select_in(query, groups))
        query = "SELECT id, chunk_id FROM chunks WHERE chunk_id IN ({marks})"
        yield from ((int(i), g) for i, g in self._select_in(query, groups))

    def texts(self, locals_: Sequence[int]) -> dict[int, str]:
        return {int(i): t for i, t in self._select_in("SELECT id, text FROM chunks WHERE id IN ({marks})", locals_)}

    def iter_chunks(self) -> Iterator[tuple[int, Chunk]]:
        query = f"SELECT {CHUNK_COLUMNS} FROM chunks c JOIN articles a ON a.id = c.article ORDER BY c.id"
        for row in self._db().execute(query):
            yield chunk_from_row(row)

    def article(self, local: int) -> Article:
        row = self._db().execute(f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id = ?", (int(local),)).fetchone()
        return article_from_row(row)[1]

    def find_article(self, article_id: str) -> tuple[int, Article] | None:
        query = f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE article_id = ?"
        row = self._db().execute(query, (article_id,)).fetchone()
        return article_from_row(row) if row else None

    def article_locals(self, article_ids: Sequence[str]) -> dict[str, int]:
        query = "SELECT article_id, id FROM articles WHERE article_id IN ({marks})"
        return {a: int(i) for a, i in self._select_in(query, article_ids)}

    def iter_articles(self) -> Iterator[tuple[int, Article]]:
        for row in self._db().execute(f"SELECT {ARTICLE_COLUMNS} FROM articles ORDER BY id"):
            yield article_from_row(row)

    def sources(self) -> Iterator[tuple[int, str, str, int, int, list[int]]]:
        """(source row, path, file hash, size, mtime_ns, local article numbers) of every source recorded here."""
        for sid, path, file_hash, size, mtime, articles in self._db().execute(
            "SELECT id, path, file_hash, size, mtime_ns, articles FROM sources ORDER BY id"
        ):
            yield int(sid), path, file_hash, int(size), int(mtime), json.loads(articles)

    def rows_with_hashes(self, hashes: Sequence[str]) -> dict[str, int]:
        """Embed hash -> a local row holding that vector, for the hashes this segment has."""
        query = "SELECT embed_hash, id FROM chunks WHERE embed_hash IN ({marks})"
        return {h: int(r) for h, r in self._select_in(query, hashes)}

    @property
    def source_count(self) -> int:
        return int(self._db().execute("SELECT COUNT(*) FROM sources").fetchone()[0])

    def identities(self, article_locals: Sequence[int]) -> set[str]:
        """`chunk_id|embed_hash` of the given articles' chunks: what a removal report compares."""
        query = "SELECT chunk_id || '|' || embed_hash FROM chunks WHERE article IN ({marks})"
        return {row[0] for row in self._select_in(query, article_locals)}

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
