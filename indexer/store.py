"""The index directory on disk: generations swapped in atomically, a writer lock, and the SQLite schema.

Layout: `<index_dir>/CURRENT` names the live generation directory (`gen-*`), which holds `manifest.json`,
`store.sqlite`, `vectors.faiss`, `bm25/` (chunks) and `bm25-articles/` (whole articles). A writer builds a whole
new generation beside the live one and then replaces CURRENT in one rename, so a reader sees either the old index
or the new one, never a mix, and killing a writer at any moment leaves the old one servable.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
DATABASE = "store.sqlite"
VECTORS = "vectors.faiss"
BM25_DIR = "bm25"
ARTICLE_BM25_DIR = "bm25-articles"
_LOCK = ".lock"

SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    path TEXT PRIMARY KEY, file_hash TEXT NOT NULL, article_ids TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS articles (
    article_id TEXT PRIMARY KEY, source_path TEXT NOT NULL, path TEXT NOT NULL, title TEXT NOT NULL,
    text TEXT NOT NULL, source TEXT NOT NULL, date TEXT, url TEXT, districts TEXT NOT NULL,
    sections TEXT NOT NULL, excluded TEXT NOT NULL, content_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id TEXT NOT NULL, article_id TEXT NOT NULL
        REFERENCES articles(article_id), start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL,
    section TEXT, districts TEXT NOT NULL, embed_text TEXT NOT NULL, embed_hash TEXT NOT NULL,
    tokens TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE INDEX IF NOT EXISTS chunks_embed_hash ON chunks(embed_hash);
"""


class IndexNotFoundError(FileNotFoundError):
    """No complete index exists at the given directory."""


class IndexLockedError(RuntimeError):
    """Another indexer holds the writer lock."""


def current_generation(index_dir: Path) -> Path | None:
    pointer = index_dir / CURRENT
    if not pointer.exists():
        return None
    generation = index_dir / pointer.read_text(encoding="utf-8").strip()
    return generation if (generation / MANIFEST).exists() else None


def require_generation(index_dir: Path) -> Path:
    generation = current_generation(index_dir)
    if generation is None:
        raise IndexNotFoundError(f"no index at {index_dir}: build one with `policyqa index --index-dir {index_dir}`")
    return generation


@contextlib.contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """flock, not a lock file's existence: the kernel drops it when a killed indexer dies, so it never goes stale."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / _LOCK, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise IndexLockedError(
                f"another `policyqa index` (pid {holder}) is writing to {index_dir}; wait for it to finish"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def new_generation(index_dir: Path, previous: Path | None) -> Path:
    """A fresh generation directory, seeded with a copy of the previous database for incremental updates."""
    name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 1_000_000:06d}"
    generation = index_dir / name
    generation.mkdir(parents=True)
    if previous is not None:
        shutil.copy2(previous / DATABASE, generation / DATABASE)
    return generation


def connect(database: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(database)
    conn.executescript(SCHEMA)
    return conn


def _fsync_tree(directory: Path) -> None:
    for path in [*directory.rglob("*"), directory]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def publish(index_dir: Path, generation: Path) -> None:
    """Make `generation` live with one atomic rename, then drop generations older than the previous one."""
    _fsync_tree(generation)
    previous = current_generation(index_dir)
    pointer_tmp = index_dir / f"{CURRENT}.tmp-{os.getpid()}"
    with open(pointer_tmp, "w", encoding="utf-8") as handle:
        handle.write(generation.name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(pointer_tmp, index_dir / CURRENT)
    _fsync_tree_dir(index_dir)
    # The previous generation stays one round, so a server that loaded it a moment ago can still finish.
    keep = {generation.name} | ({previous.name} if previous else set())
    prune(index_dir, keep)


def _fsync_tree_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def prune(index_dir: Path, keep: set[str]) -> None:
    """Remove stale generations and half-written ones a killed indexer left behind (called under the lock)."""
    for path in index_dir.glob("gen-*"):
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)
    for path in index_dir.glob(f"{CURRENT}.tmp-*"):
        path.unlink(missing_ok=True)
