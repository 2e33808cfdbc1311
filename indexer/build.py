"""Incremental indexing: new and changed files become one new segment, removed ones become tombstones, and the
new generation is published atomically. A run writes in proportion to what changed, never a copy of the index."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from indexer.chunking import chunk_article
from indexer.commit import BuildReport, commit_run
from indexer.compact import CompactionReport, auto_compact, compact_all
from indexer.districts import Gazetteer, make_tokenizer
from indexer.embedding import Embedder
from indexer.encoders.compat import check_encoder
from indexer.manifest import FORMAT_VERSION, IndexMismatchError, Manifest, check_model
from indexer.reader import IndexView
from indexer.records import Article, Skipped
from indexer.reprints import mark_reprints
from indexer.scan import Scan, SourceState, live_sources, scan_sources
from indexer.segment_writer import NewArticle, SourceRecord
from indexer.settings import IndexSettings
from indexer.sources import read_articles, unreadable_entries
from indexer.sparse import SparseTokenizer, load_stopwords
from indexer.store import (
    collect_garbage,
    current_generation,
    manifest_path,
    writer_lock,
)

Progress = Callable[[int, int], None]
# Embeds {embed hash: text} and returns {embed hash: vector}; the default runs the embedder in this process, the
# Ray engine (policyqa_ray) passes one that spreads the texts over an actor pool.
EmbedMissing = Callable[[dict[str, str], "Embedder", "Progress | None"], dict[str, Any]]
_EMBED_BATCH = 64


def referenced_files(index_dir: Path) -> dict[str, set[str]]:
    """Every generation manifest on disk and the segment files it needs (for garbage collection)."""
    found: dict[str, set[str]] = {}
    for path in sorted((index_dir / "generations").glob("g*.json")):
        try:
            found[path.stem] = Manifest.read(path).files()
        except (ValueError, TypeError, KeyError):
            found[path.stem] = set()  # unreadable: written by a killed run, or another format
    return found


def _read_changed(
    changed: Sequence[tuple[Path, Path]], gazetteer: Gazetteer, max_file_bytes: int, default_year: int | None = None
) -> tuple[dict[str, list[Article]], list[Skipped]]:
    by_file: dict[str, list[Article]] = {}
    skipped: list[Skipped] = []
    for file, root in changed:
        articles: list[Article] = []
        for item in read_articles(
            [file], gazetteer, root=root, max_file_bytes=max_file_bytes, default_year=default_year
        ):
            (skipped if isinstance(item, Skipped) else articles).append(item)
        # A file that yields nothing keeps its previous articles: bad input must not lose indexed content.
        if articles:
            by_file[str(file.resolve())] = articles
    return by_file, skipped


def _embed_missing(texts_by_hash: dict[str, str], embedder: Embedder, progress: Progress | None) -> dict[str, Any]:
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


def _open_previous(index_dir: Path, settings: IndexSettings, rebuild: bool) -> IndexView | None:
    live = None if rebuild else current_generation(index_dir)
    if live is None:
        return None
    manifest = Manifest.read(manifest_path(index_dir, live))
    if manifest.format_version != FORMAT_VERSION:
        # An index written by an older policyqa is rebuilt in full rather than patched.
        return None
    if manifest.model != settings.model:
        raise IndexMismatchError(
            f"the index at {index_dir} was built with model {manifest.model!r}, the configured model is "
            f"{settings.model!r}: re-embed everything with `policyqa index --rebuild --index-dir {index_dir}` "
            f"or set POLICYQA_MODEL={manifest.model}"
        )
    return IndexView.open(index_dir)


def build_index(
    paths: Sequence[Path],
    settings: IndexSettings,
    embedder_factory: Callable[[], Embedder],
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
    embed: EmbedMissing | None = None,
) -> BuildReport:
    """Bring the index at `settings.index_dir` in line with the articles under `paths`."""
    started = time.perf_counter()
    index_dir = settings.index_dir
    with writer_lock(index_dir):
        # First, whatever a killed run left behind, even when this run turns out to have nothing to do.
        collect_garbage(index_dir, referenced_files(index_dir))
        view = _open_previous(index_dir, settings, rebuild)
        try:
            report = _update(view, paths, settings, embedder_factory, progress, embed or _embed_missing)
        finally:
            if view is not None:
                view.close()
        if report.generation is not None:
            auto_compact(index_dir, settings.vector_index_settings(), settings.compaction())
        collect_garbage(index_dir, referenced_files(index_dir))
    return BuildReport(**{**asdict(report), "skipped": report.skipped, "seconds": time.perf_counter() - started})


def _update(
    view: IndexView | None,
    paths: Sequence[Path],
    settings: IndexSettings,
    embedder_factory: Callable[[], Embedder],
    progress: Progress | None,
    embed: EmbedMissing,
) -> BuildReport:
    manifest = view.manifest if view else None
    chunker, sparse = settings.chunker(), settings.sparse()
    # Other chunking or BM25 settings: every article is chunked and tokenised again; vectors are reused.
    rechunk_all = manifest is not None and (manifest.chunker != asdict(chunker) or manifest.sparse != asdict(sparse))
    old = live_sources(view) if view else {}
    scan = scan_sources(paths, old, rechunk_all)
    # Links, loops, hidden and unsupported entries never reach the scan: report them on every run.
    unread = [*unreadable_entries(paths), *scan.skipped]
    if view and manifest and not scan.changed and not scan.gone:
        return BuildReport(manifest.articles, manifest.chunks, 0, manifest.chunks, 0, tuple(unread))

    gazetteer = Gazetteer.load()
    by_file, skipped = _read_changed(scan.changed, gazetteer, settings.max_file_bytes, settings.default_year)
    skipped = [*unread, *skipped]
    decoded = tuple((a.path, a.encoding) for arts in by_file.values() for a in arts if a.encoding != "utf-8")
    doomed = [old[key] for key in [*scan.gone, *by_file] if key in old]
    new_articles, sources = _chunk(view, by_file, scan, doomed, settings, gazetteer, skipped)
    new_articles, reprint_bands = mark_reprints(view, new_articles)
    if view and manifest and not new_articles and not sources and not doomed:
        # Only files that yield nothing (empty, unreadable): report them, publish nothing.
        return BuildReport(manifest.articles, manifest.chunks, 0, manifest.chunks, 0, tuple(skipped))

    texts = {c.embed_hash: c.embed_text or c.text for item in new_articles for c in item.chunks}
    reusable = _reusable_vectors(view, list(texts)) if view else {}
    missing = {h: t for h, t in texts.items() if h not in reusable}
    embedder: Embedder | None = None
    # A first build loads the model even for an empty corpus: the manifest must name the model it is for.
    if missing or manifest is None:
        embedder = embedder_factory()
        if manifest:
            check_model(
                manifest, settings.index_dir, embedder.model_id, embedder.dim, embedder.query_prompt,
                embedder.passage_prompt,
            )  # fmt: skip
            check_encoder(manifest, settings.index_dir, getattr(embedder, "encoder", None))
    dim = manifest.dim if manifest else (embedder.dim if embedder else 0)
    fresh = embed(missing, embedder, progress) if embedder else {}
    hashes = [c.embed_hash for item in new_articles for c in item.chunks]
    vectors = np.zeros((len(hashes), dim), np.float32)
    for i, h in enumerate(hashes):
        vectors[i] = fresh[h] if h in fresh else reusable[h]
    report = commit_run(
        view, settings, embedder, dim, new_articles, sources, vectors, doomed, skipped, set(fresh), reprint_bands
    )
    return replace(report, decoded=decoded)


def _chunk(
    view: IndexView | None,
    by_file: dict[str, list[Article]],
    scan: Scan,
    doomed: list[SourceState],
    settings: IndexSettings,
    gazetteer: Gazetteer,
    skipped: list[Skipped],
) -> tuple[list[NewArticle], list[SourceRecord]]:
    tokenizer = SparseTokenizer(gazetteer.tokenizer or make_tokenizer(gazetteer), load_stopwords())
    chunker, sparse = settings.chunker(), settings.sparse()
    leaving = {(state.position, local) for state in doomed for local in state.article_locals}
    candidates = [a.article_id for articles in by_file.values() for a in articles]
    taken = _live_ids(view, candidates, leaving) if view else set()
    new_articles: list[NewArticle] = []
    sources: list[SourceRecord] = []
    for key, articles in by_file.items():
        kept_ids = []
        for article in articles:
            if article.article_id in taken:
                skipped.append(Skipped(article.path, f"duplicate article id {article.article_id!r}; kept the first"))
                continue
            taken.add(article.article_id)
            kept_ids.append(article.article_id)
            chunks = tuple(chunk_article(article, chunker, gazetteer))
            tokens = tuple(tuple(tokenizer.passage_tokens(article.title, c.section, c.text, sparse)) for c in chunks)
            new_articles.append(NewArticle(key, article, chunks, tokens))
        stat = scan.stats[key]
        sources.append(SourceRecord(key, stat.file_hash, stat.size, stat.mtime_ns, tuple(kept_ids)))
    return new_articles, sources


def _live_ids(view: IndexView, article_ids: list[str], leaving: set[tuple[int, int]]) -> set[str]:
    """Which of `article_ids` the index serves and this run does not remove."""
    live = set()
    for position, (segment, dead) in enumerate(zip(view.segments, view.dead_articles, strict=True)):
        for article_id, local in segment.article_locals(article_ids).items():
            if (dead is None or not dead[local]) and (position, local) not in leaving:
                live.add(article_id)
    return live


def _reusable_vectors(view: IndexView, hashes: list[str]) -> dict[str, np.ndarray]:
    """Vectors already computed for identical embed texts, live or deleted: a changed article keeps the vectors
    of its unchanged passages."""
    found: dict[str, np.ndarray] = {}
    for segment in reversed(view.segments):
        wanted = [h for h in hashes if h not in found]
        if not wanted:
            break
        for h, local in segment.rows_with_hashes(wanted).items():
            found[h] = np.asarray(segment.dense.vectors[local], np.float32)
    return found


def add_prepared(
    settings: IndexSettings,
    identity: Embedder,
    articles: Sequence[NewArticle],
    sources: Sequence[SourceRecord],
    vectors: np.ndarray,
    *,
    compact: bool = True,
) -> BuildReport:
    """Publish articles whose chunks, tokens and vectors the caller brings (bench/bench_scale.py, a distributed
    embedder): one new segment, written, published and compacted exactly as an indexing run does."""
    started = time.perf_counter()
    with writer_lock(settings.index_dir):
        collect_garbage(settings.index_dir, referenced_files(settings.index_dir))
        view = _open_previous(settings.index_dir, settings, rebuild=False)
        try:
            dim = int(vectors.shape[1])
            hashes = {c.embed_hash for item in articles for c in item.chunks}
            report = commit_run(view, settings, identity, dim, list(articles), list(sources), vectors, [], [], hashes)
        finally:
            if view is not None:
                view.close()
        if compact:
            auto_compact(settings.index_dir, settings.vector_index_settings(), settings.compaction())
        collect_garbage(settings.index_dir, referenced_files(settings.index_dir))
    return BuildReport(**{**asdict(report), "seconds": time.perf_counter() - started})


def compact_index(settings: IndexSettings) -> CompactionReport:
    """`policyqa index --compact`: merge every segment into one and rebuild its vector index."""
    with writer_lock(settings.index_dir):
        collect_garbage(settings.index_dir, referenced_files(settings.index_dir))
        report = compact_all(settings.index_dir, settings.vector_index_settings())
        collect_garbage(settings.index_dir, referenced_files(settings.index_dir))
    return report
