"""Merging segments into one, leaving out deleted articles: the texts through SQLite, vectors block by block,
postings and district lists renumbered with numpy. Memory stays near the size of the postings, not the texts."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.postings import merge_postings
from indexer.segment import DATABASE, REPRINT_BANDS, VECTORS, Segment, SegmentMeta
from indexer.segment_writer import finish_segment
from indexer.serialize import INDEXES, SCHEMA
from indexer.vector_index import FLAT, VectorIndexSettings

_BLOCK = 65_536


@dataclass(frozen=True)
class MergePart:
    segment: Segment
    dead_articles: np.ndarray | None  # bool per article
    dead_sources: np.ndarray  # source rows


def _maps(part: MergePart, article_start: int, row_start: int) -> tuple[np.ndarray, np.ndarray]:
    """old article -> new article, old row -> new row (-1 where deleted)."""
    segment = part.segment
    live_articles = np.ones(segment.meta.articles, bool) if part.dead_articles is None else ~part.dead_articles
    article_map = np.full(segment.meta.articles, -1, np.int64)
    article_map[live_articles] = np.arange(int(live_articles.sum())) + article_start
    live_rows = live_articles[segment.chunk_article] if segment.meta.rows else np.zeros(0, bool)
    row_map = np.full(segment.meta.rows, -1, np.int64)
    row_map[live_rows] = np.arange(int(live_rows.sum())) + row_start
    return article_map, row_map


def _copy_rows(conn: sqlite3.Connection, part: MergePart, article_map: np.ndarray, row_map: np.ndarray) -> None:
    conn.execute("ATTACH DATABASE ? AS src", (f"file:{part.segment.directory / DATABASE}?mode=ro",))
    conn.execute("CREATE TEMP TABLE amap (old INTEGER PRIMARY KEY, new INTEGER)")
    conn.execute("CREATE TEMP TABLE cmap (old INTEGER PRIMARY KEY, new INTEGER)")
    keep = np.flatnonzero(article_map >= 0)
    conn.executemany("INSERT INTO amap VALUES (?,?)", zip(keep.tolist(), article_map[keep].tolist(), strict=True))
    keep = np.flatnonzero(row_map >= 0)
    conn.executemany("INSERT INTO cmap VALUES (?,?)", zip(keep.tolist(), row_map[keep].tolist(), strict=True))
    conn.execute(
        "INSERT INTO articles SELECT m.new, a.article_id, a.source_path, a.path, a.title, a.text, a.source, a.date,"
        " a.url, a.districts, a.sections, a.excluded, a.content_hash, a.date_precision"
        " FROM src.articles a JOIN amap m ON m.old = a.id"
        " ORDER BY m.new"
    )
    conn.execute(
        'INSERT INTO chunks SELECT m.new, c.chunk_id, am.new, c.start, c."end", c.text, c.section, c.districts,'
        " c.embed_hash, c.reprint_of FROM src.chunks c JOIN cmap m ON m.old = c.id JOIN amap am ON am.old = c.article"
        " ORDER BY m.new"
    )
    dead_sources = set(part.dead_sources.tolist())
    sources = []
    for row, path, file_hash, size, mtime, articles in part.segment.sources():
        if row not in dead_sources:
            renumbered = [int(article_map[a]) for a in articles if article_map[a] >= 0]
            sources.append((path, file_hash, size, mtime, json.dumps(renumbered)))
    conn.executemany("INSERT INTO sources (path, file_hash, size, mtime_ns, articles) VALUES (?,?,?,?,?)", sources)
    conn.commit()
    conn.execute("DROP TABLE amap")
    conn.execute("DROP TABLE cmap")
    conn.execute("DETACH DATABASE src")


def _merge_bands(directory: Path, parts: Sequence[MergePart], row_maps: list[np.ndarray], rows: int) -> None:
    """The live rows' reprint band keys (indexer.reprints), renumbered like the vectors."""
    width = max((p.segment.reprint_bands.shape[1] for p in parts if p.segment.reprint_bands is not None), default=0)
    bands = np.zeros((rows, width), np.uint64)
    for part, row_map in zip(parts, row_maps, strict=True):
        old = part.segment.reprint_bands
        keep = row_map >= 0
        if old is not None and old.shape[1] == width and keep.any():
            bands[row_map[keep]] = np.asarray(old)[keep]
    np.save(directory / REPRINT_BANDS, bands)


def merge_segments(
    directory: Path, name: str, base: int, article_base: int, parts: Sequence[MergePart], settings: VectorIndexSettings
) -> SegmentMeta:
    directory.mkdir(parents=True)
    maps, article_start, row_start = [], 0, 0
    for part in parts:
        article_map, row_map = _maps(part, article_start, row_start)
        maps.append((article_map, row_map))
        article_start += int((article_map >= 0).sum())
        row_start += int((row_map >= 0).sum())
    dim = parts[0].segment.meta.dim if parts else 0
    conn = sqlite3.connect(directory / DATABASE)
    try:
        conn.executescript(SCHEMA)
        for part, (article_map, row_map) in zip(parts, maps, strict=True):
            _copy_rows(conn, part, article_map, row_map)
        conn.executescript(INDEXES)
        conn.commit()
    finally:
        conn.close()

    vectors = np.lib.format.open_memmap(directory / VECTORS, mode="w+", dtype=np.float32, shape=(row_start, dim))
    chunk_article = np.zeros(row_start, np.int32)
    districts: dict[str, list[np.ndarray]] = {}
    for part, (article_map, row_map) in zip(parts, maps, strict=True):
        segment = part.segment
        for begin in range(0, segment.meta.rows, _BLOCK):
            targets = row_map[begin : begin + _BLOCK]
            keep = targets >= 0
            vectors[targets[keep]] = np.asarray(segment.dense.vectors[begin : begin + _BLOCK])[keep]
        keep = row_map >= 0
        chunk_article[row_map[keep]] = article_map[segment.chunk_article[keep]]
        for district, rows in segment.districts.items():
            moved = row_map[rows]
            districts.setdefault(district, []).append(moved[moved >= 0])
    vectors.flush()
    del vectors
    _merge_bands(directory, parts, [row_map for _, row_map in maps], row_start)
    postings = merge_postings([(p.segment.postings, row_map) for p, (_, row_map) in zip(parts, maps, strict=True)])
    meta = SegmentMeta(name, base, article_base, row_start, article_start, dim, FLAT)
    merged_districts = {d: np.sort(np.concatenate(rows)) for d, rows in districts.items()}
    return finish_segment(directory, meta, chunk_article, postings, merged_districts, settings)
