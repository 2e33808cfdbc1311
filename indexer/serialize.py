"""A segment's SQLite store: the schema, and how articles, chunks and sources become rows (JSON for tuples).

Rows are numbered from 0 within their segment (`id`), which is also the row's position in the segment's vector
and postings arrays. The embed text itself is not kept: its hash is what incremental indexing compares.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from indexer.records import Article, Chunk, Section, Span

SCHEMA = """
CREATE TABLE sources (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, file_hash TEXT NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, articles TEXT NOT NULL
);
CREATE TABLE articles (
    id INTEGER PRIMARY KEY, article_id TEXT NOT NULL UNIQUE, source_path TEXT NOT NULL, path TEXT NOT NULL,
    title TEXT NOT NULL, text TEXT NOT NULL, source TEXT NOT NULL, date TEXT, url TEXT, districts TEXT NOT NULL,
    sections TEXT NOT NULL, excluded TEXT NOT NULL, content_hash TEXT NOT NULL, date_precision TEXT
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL, article INTEGER NOT NULL, start INTEGER NOT NULL,
    "end" INTEGER NOT NULL, text TEXT NOT NULL, section TEXT, districts TEXT NOT NULL, embed_hash TEXT NOT NULL,
    reprint_of TEXT
);
"""
# Built after the bulk insert: one sort instead of a b-tree update per row.
INDEXES = (
    "CREATE INDEX chunks_embed_hash ON chunks(embed_hash);"
    "CREATE INDEX chunks_reprint_of ON chunks(reprint_of) WHERE reprint_of IS NOT NULL;"
    "CREATE INDEX chunks_chunk_id ON chunks(chunk_id);"
)

ARTICLE_COLUMNS = (
    "id, article_id, source_path, path, title, text, source, date, url, districts, sections, excluded, content_hash,"
    " date_precision"
)
CHUNK_COLUMNS = 'c.id, a.article_id, c.start, c."end", c.text, c.section, c.districts, c.reprint_of'


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def article_row(local: int, article: Article, source_path: str) -> tuple:
    return (
        local,
        article.article_id,
        source_path,
        article.path,
        article.title,
        article.text,
        article.source,
        article.date,
        article.url,
        _dump(list(article.districts)),
        _dump([[s.heading, s.start, s.end, list(s.districts)] for s in article.sections]),
        _dump([[s.start, s.end] for s in article.excluded]),
        article.content_hash,
        article.date_precision,
    )


def chunk_row(local: int, article_local: int, chunk: Chunk) -> tuple:
    return (
        local,
        chunk.chunk_id,
        article_local,
        chunk.start,
        chunk.end,
        chunk.text,
        chunk.section,
        _dump(list(chunk.districts)),
        chunk.embed_hash,
        chunk.reprint_of,
    )


def insert_rows(conn: sqlite3.Connection, table: str, rows: Sequence[tuple]) -> None:
    if rows:
        marks = ",".join("?" * len(rows[0]))
        conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)


def article_from_row(row: Sequence) -> tuple[int, Article]:
    (local, article_id, _source, path, title, text, source, date, url, districts, sections, excluded, _h, precision) = (
        row
    )
    article = Article(
        article_id=article_id,
        title=title,
        text=text,
        path=path,
        source=source,
        date=date,
        url=url,
        districts=tuple(json.loads(districts)),
        sections=tuple(Section(h, s, e, tuple(d)) for h, s, e, d in json.loads(sections)),
        excluded=tuple(Span(s, e) for s, e in json.loads(excluded)),
        date_precision=precision,
    )
    return int(local), article


def chunk_from_row(row: Sequence) -> tuple[int, Chunk]:
    (local, article_id, start, end, text, section, districts, reprint_of) = row
    chunk = Chunk(
        article_id=article_id,
        start=start,
        end=end,
        text=text,
        section=section,
        districts=tuple(json.loads(districts)),
        reprint_of=reprint_of,
    )
    return int(local), chunk
