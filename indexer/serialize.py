"""How articles and chunks are stored as SQLite rows (JSON for the tuple fields)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from indexer.records import Article, Chunk, Section, Span

ARTICLE_COLUMNS = (
    "article_id, source_path, path, title, text, source, date, url, districts, sections, excluded, content_hash"
)
CHUNK_COLUMNS = 'id, chunk_id, article_id, start, "end", text, section, districts, embed_text, embed_hash'


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def insert_article(conn: sqlite3.Connection, article: Article, source_path: str) -> None:
    conn.execute(
        f"INSERT INTO articles ({ARTICLE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (
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
        ),
    )


def insert_chunk(conn: sqlite3.Connection, chunk: Chunk, tokens: str) -> int:
    cursor = conn.execute(
        'INSERT INTO chunks (chunk_id, article_id, start, "end", text, section, districts, embed_text, embed_hash,'
        " tokens) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            chunk.chunk_id,
            chunk.article_id,
            chunk.start,
            chunk.end,
            chunk.text,
            chunk.section,
            _dump(list(chunk.districts)),
            chunk.embed_text,
            chunk.embed_hash,
            tokens,
        ),
    )
    return int(cursor.lastrowid)


def article_from_row(row: Sequence) -> Article:
    (article_id, _source_path, path, title, text, source, date, url, districts, sections, excluded, _hash) = row
    return Article(
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
    )


def chunk_from_row(row: Sequence) -> tuple[int, Chunk]:
    (row_id, _chunk_id, article_id, start, end, text, section, districts, embed_text, _hash) = row
    chunk = Chunk(
        article_id=article_id,
        start=start,
        end=end,
        text=text,
        section=section,
        districts=tuple(json.loads(districts)),
        embed_text=embed_text,
    )
    return int(row_id), chunk
