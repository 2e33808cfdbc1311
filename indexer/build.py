"""Incremental indexing: embed only what is new, drop what is gone, and publish a new generation atomically."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexer.chunking import chunk_article
from indexer.districts import Gazetteer, make_tokenizer
from indexer.embedding import Embedder
from indexer.encoders.compat import check_encoder, encoder_fields
from indexer.manifest import FORMAT_VERSION, IndexMismatchError, Manifest, check_model, package_versions
from indexer.records import Article, Skipped
from indexer.serialize import insert_article, insert_chunk
from indexer.settings import IndexSettings
from indexer.sources import iter_source_files, read_articles
from indexer.sparse import (
    SparseIndex,
    SparseSettings,
    SparseTokenizer,
    decode_tokens,
    encode_tokens,
    load_stopwords,
)
from indexer.store import (
    ARTICLE_BM25_DIR,
    BM25_DIR,
    DATABASE,
    MANIFEST,
    VECTORS,
    connect,
    current_generation,
    new_generation,
    publish,
    writer_lock,
)

Progress = Callable[[int, int], None]
_EMBED_BATCH = 64


@dataclass(frozen=True)
class BuildReport:
    articles: int
    chunks: int
    embedded: int
    unchanged: int
    removed: int
    skipped: tuple[Skipped, ...] = field(default_factory=tuple)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["skipped"] = [{"path": s.path, "reason": s.reason} for s in self.skipped]
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass(frozen=True)
class _Scan:
    changed: list[tuple[Path, Path]]  # (file, root for article ids)
    hashes: dict[str, str]  # resolved path -> sha256 of the file's bytes
    gone: list[str]


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _scan(paths: Sequence[Path], old_sources: dict[str, tuple[str, list[str]]], rechunk_all: bool) -> _Scan:
    changed: list[tuple[Path, Path]] = []
    hashes: dict[str, str] = {}
    for given in paths:
        root = given if given.is_dir() else given.parent
        for file in iter_source_files([given]):
            key = str(file.resolve())
            if key in hashes:
                continue
            hashes[key] = _file_hash(file)
            old = old_sources.get(key)
            if rechunk_all or old is None or old[0] != hashes[key]:
                changed.append((file, root))
    gone = [key for key in old_sources if key not in hashes and not Path(key).exists()]
    if rechunk_all:
        gone += [key for key in old_sources if key not in hashes and key not in gone]
    return _Scan(changed, hashes, gone)


def _old_sources(conn: sqlite3.Connection) -> dict[str, tuple[str, list[str]]]:
    return {
        path: (h, json.loads(ids)) for path, h, ids in conn.execute("SELECT path, file_hash, article_ids FROM sources")
    }


def _counts(conn: sqlite3.Connection) -> tuple[int, int]:
    articles = conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    chunks = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    return int(articles), int(chunks)


def _remove_source(conn: sqlite3.Connection, key: str) -> list[tuple[int, str]]:
    row = conn.execute("SELECT article_ids FROM sources WHERE path = ?", (key,)).fetchone()
    if row is None:
        return []
    ids = json.loads(row[0])
    marks = ",".join("?" * len(ids))
    removed = conn.execute(f"SELECT id, chunk_id || '|' || embed_hash FROM chunks WHERE article_id IN ({marks})", ids)
    removed = [(int(r), ident) for r, ident in removed]
    conn.execute(f"DELETE FROM chunks WHERE article_id IN ({marks})", ids)
    conn.execute(f"DELETE FROM articles WHERE article_id IN ({marks})", ids)
    conn.execute("DELETE FROM sources WHERE path = ?", (key,))
    return removed


def _read_changed(
    changed: Iterable[tuple[Path, Path]], gazetteer: Gazetteer
) -> tuple[dict[str, list[Article]], list[Skipped]]:
    by_file: dict[str, list[Article]] = {}
    skipped: list[Skipped] = []
    for file, root in changed:
        articles: list[Article] = []
        for item in read_articles([file], gazetteer, root=root):
            (skipped if isinstance(item, Skipped) else articles).append(item)
        # A file that yields nothing keeps its previous articles: bad input must not lose indexed content.
        if articles:
            by_file[str(file.resolve())] = articles
    return by_file, skipped


def _embed_missing(
    texts_by_hash: dict[str, str], embedder: Embedder, progress: Progress | None
) -> dict[str, np.ndarray]:
    # Sorting by length keeps padding low across batches, which is most of the CPU time saved.
    order = sorted(texts_by_hash, key=lambda h: len(texts_by_hash[h]))
    vectors: dict[str, np.ndarray] = {}
    for begin in range(0, len(order), _EMBED_BATCH):
        batch = order[begin : begin + _EMBED_BATCH]
        for key, vector in zip(batch, embedder.embed_passages([texts_by_hash[h] for h in batch]), strict=True):
            vectors[key] = vector
        if progress:
            progress(len(vectors), len(order))
    return vectors


def _article_sparse(conn: sqlite3.Connection, settings: SparseSettings) -> SparseIndex:
    """Whole-article BM25 from the stored chunk tokens: document-level evidence for ranking passages, without
    re-tokenising the corpus (an overlap sentence counts twice, which barely moves article scores)."""
    tokens: dict[str, list[str]] = {}
    for article_id, stored in conn.execute("SELECT article_id, tokens FROM chunks ORDER BY article_id, id"):
        tokens.setdefault(article_id, []).extend(decode_tokens(stored))
    keys = sorted(tokens)
    return SparseIndex.build([tokens[k] for k in keys], range(len(keys)), keys, settings)


def build_index(
    paths: Sequence[Path],
    settings: IndexSettings,
    embedder_factory: Callable[[], Embedder],
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> BuildReport:
    """Bring the index at `settings.index_dir` in line with the articles under `paths`."""
    started = time.perf_counter()
    index_dir = settings.index_dir
    chunker = settings.chunker()
    with writer_lock(index_dir):
        previous = None if rebuild else current_generation(index_dir)
        manifest = Manifest.read(previous / MANIFEST) if previous else None
        if manifest and manifest.format_version != FORMAT_VERSION:
            # An index written by an older policyqa is rebuilt in full rather than patched.
            previous, manifest = None, None
        if manifest and manifest.model != settings.model:
            raise IndexMismatchError(
                f"the index at {index_dir} was built with model {manifest.model!r}, the configured model is "
                f"{settings.model!r}: re-embed everything with `policyqa index --rebuild --index-dir {index_dir}` "
                f"or set POLICYQA_MODEL={manifest.model}"
            )
        old_sources: dict[str, tuple[str, list[str]]] = {}
        if previous:
            with sqlite3.connect(previous / DATABASE) as old:
                old_sources = _old_sources(old)
        # Other chunking or BM25 settings: every article is chunked and tokenised again; vectors are reused.
        rechunk_all = manifest is not None and (
            manifest.chunker != asdict(chunker) or manifest.sparse != asdict(settings.sparse())
        )
        scan = _scan(paths, old_sources, rechunk_all)
        if previous and manifest and not scan.changed and not scan.gone:
            return BuildReport(
                manifest.articles, manifest.chunks, 0, manifest.chunks, 0, (), time.perf_counter() - started
            )

        gazetteer = Gazetteer.load()
        by_file, skipped = _read_changed(scan.changed, gazetteer)
        generation = new_generation(index_dir, previous)
        try:
            report = _write_generation(
                generation, previous, manifest, settings, scan, by_file, skipped, gazetteer, embedder_factory, progress
            )
        except BaseException:
            shutil.rmtree(generation, ignore_errors=True)
            raise
        publish(index_dir, generation)
    return BuildReport(**{**asdict(report), "skipped": tuple(skipped), "seconds": time.perf_counter() - started})


def _write_generation(
    generation: Path,
    previous: Path | None,
    manifest: Manifest | None,
    settings: IndexSettings,
    scan: _Scan,
    by_file: dict[str, list[Article]],
    skipped: list[Skipped],
    gazetteer: Gazetteer,
    embedder_factory: Callable[[], Embedder],
    progress: Progress | None,
) -> BuildReport:
    import faiss

    conn = connect(generation / DATABASE)
    # Any vector the previous generation holds can be reused for an identical embed text.
    reusable = {h: int(r) for r, h in conn.execute("SELECT id, embed_hash FROM chunks")}
    removed: list[tuple[int, str]] = []
    for key in [*scan.gone, *by_file]:
        removed += _remove_source(conn, key)
    taken = {row[0] for row in conn.execute("SELECT article_id FROM articles")}

    tokenizer = SparseTokenizer(gazetteer.tokenizer or make_tokenizer(gazetteer), load_stopwords())
    chunker, sparse = settings.chunker(), settings.sparse()
    new_rows: list[tuple[int, str, str, str]] = []  # row id, embed hash, embed text, identity
    for key, articles in by_file.items():
        kept_ids = []
        for article in articles:
            if article.article_id in taken:
                skipped.append(Skipped(article.path, f"duplicate article id {article.article_id!r}; kept the first"))
                continue
            taken.add(article.article_id)
            kept_ids.append(article.article_id)
            insert_article(conn, article, key)
            for chunk in chunk_article(article, chunker, gazetteer):
                tokens = tokenizer.passage_tokens(article.title, chunk.section, chunk.text, sparse)
                row = insert_chunk(conn, chunk, encode_tokens(tokens))
                new_rows.append(
                    (row, chunk.embed_hash, chunk.embed_text or chunk.text, f"{chunk.chunk_id}|{chunk.embed_hash}")
                )
        conn.execute(
            "INSERT INTO sources (path, file_hash, article_ids) VALUES (?,?,?)",
            (key, scan.hashes[key], json.dumps(kept_ids, ensure_ascii=False)),
        )

    missing = {h: text for _, h, text, _ in new_rows if h not in reusable}
    embedder: Embedder | None = None
    # A first build loads the model even for an empty corpus: the manifest must name the model it is for.
    if missing or manifest is None:
        embedder = embedder_factory()
        if manifest:
            check_model(
                manifest,
                settings.index_dir,
                embedder.model_id,
                embedder.dim,
                embedder.query_prompt,
                embedder.passage_prompt,
            )
            check_encoder(manifest, settings.index_dir, getattr(embedder, "encoder", None))
    dim = manifest.dim if manifest else (embedder.dim if embedder else 0)
    if previous and manifest:
        vectors = faiss.read_index(str(previous / VECTORS))
    else:
        vectors = faiss.IndexIDMap2(faiss.IndexFlatIP(dim or 1))
    fresh = _embed_missing(missing, embedder, progress) if embedder else {}

    if new_rows:
        stacked = np.stack([fresh[h] if h in fresh else vectors.reconstruct(reusable[h]) for _, h, _, _ in new_rows])
    if removed:
        vectors.remove_ids(np.asarray([r for r, _ in removed], dtype=np.int64))
    if new_rows:
        vectors.add_with_ids(stacked.astype(np.float32), np.asarray([r for r, _, _, _ in new_rows], dtype=np.int64))

    rows = conn.execute("SELECT id, tokens FROM chunks ORDER BY id").fetchall()
    SparseIndex.build([decode_tokens(t) for _, t in rows], [r for r, _ in rows], settings=sparse).save(
        generation / BM25_DIR
    )
    _article_sparse(conn, sparse).save(generation / ARTICLE_BM25_DIR)
    conn.commit()
    articles, chunks = _counts(conn)
    conn.close()
    faiss.write_index(vectors, str(generation / VECTORS))

    new_identities = {ident for *_, ident in new_rows}
    removed_count = sum(1 for _, ident in removed if ident not in new_identities)
    identity = (
        (embedder.model_id, embedder.query_prompt, embedder.passage_prompt, getattr(embedder, "dtype", "float32"))
        if embedder
        else (manifest.model, manifest.query_prompt, manifest.passage_prompt, manifest.embed_dtype)
    )
    Manifest(
        model=identity[0],
        dim=dim,
        query_prompt=identity[1],
        passage_prompt=identity[2],
        embed_dtype=identity[3],
        chunker=asdict(chunker),
        sparse=asdict(sparse),
        articles=articles,
        chunks=chunks,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        versions=package_versions(),
        **encoder_fields(manifest, embedder),
    ).write(generation / MANIFEST)
    fresh_rows = sum(1 for _, h, _, _ in new_rows if h in fresh)
    return BuildReport(articles, chunks, len(fresh), chunks - fresh_rows, removed_count)
