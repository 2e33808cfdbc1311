"""Committing one indexing run: tombstones for what left, one new segment for what arrived, and the manifest of the
new generation, published atomically. Writes are in proportion to the change, never a copy of the index."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from indexer.embedding import Embedder
from indexer.encoders.compat import encoder_fields
from indexer.manifest import Manifest, package_versions
from indexer.reader import IndexView
from indexer.records import Skipped
from indexer.scan import SourceState
from indexer.segment_writer import NewArticle, SourceRecord, write_segment
from indexer.settings import IndexSettings
from indexer.store import generation_name, next_generation_number, publish, segment_dir
from indexer.tombstones import read_deletes, write_deletes


@dataclass(frozen=True)
class BuildReport:
    articles: int
    chunks: int
    embedded: int
    unchanged: int
    removed: int
    skipped: tuple[Skipped, ...] = field(default_factory=tuple)
    seconds: float = 0.0
    generation: str | None = None
    segments: int = 0
    # (path, encoding) of every file read in an encoding other than UTF-8 (GB18030, UTF-16...): indexer.decode.
    decoded: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["skipped"] = [{"path": s.path, "reason": s.reason} for s in self.skipped]
        data["decoded"] = [{"path": p, "encoding": e} for p, e in self.decoded]
        data["seconds"] = round(self.seconds, 3)
        return data


def commit_run(
    view: IndexView | None,
    settings: IndexSettings,
    embedder: Embedder | None,
    dim: int,
    new_articles: list[NewArticle],
    sources: list[SourceRecord],
    vectors: np.ndarray,
    doomed: list[SourceState],
    skipped: list[Skipped],
    fresh: set[str],
    reprint_bands: np.ndarray | None = None,
) -> BuildReport:
    """Publish the generation after this run. `fresh`: embed hashes computed by this run (for the report)."""

    index_dir = settings.index_dir
    manifest = view.manifest if view else None
    number = next_generation_number(index_dir)
    generation = generation_name(number)
    refs = [dict(ref) for ref in manifest.segments] if manifest else []
    next_row = manifest.next_row if manifest else 0
    next_article = manifest.next_article if manifest else 0
    articles = manifest.articles if manifest else 0
    chunks = manifest.chunks if manifest else 0

    removed_identities: set[str] = set()
    by_segment: dict[int, tuple[list[int], list[int]]] = {}
    for state in doomed:
        dead_articles, dead_sources = by_segment.setdefault(state.position, ([], []))
        dead_articles.extend(state.article_locals)
        dead_sources.append(state.source_row)
    assert view is not None or not by_segment
    for position, (dead_articles, dead_sources) in by_segment.items():
        segment = view.segments[position]  # type: ignore[union-attr]
        removed_identities |= segment.identities(dead_articles)
        articles -= len(dead_articles)
        chunks -= int(np.isin(segment.chunk_article, dead_articles).sum())
        refs[position]["deletes"] = write_deletes(
            segment.directory, generation, refs[position].get("deletes"), dead_articles, dead_sources
        )
    refs = [ref for ref, keep in zip(refs, _still_used(view, refs), strict=True) if keep]

    if new_articles or sources:
        name = f"s{number:09d}"
        tmp = segment_dir(index_dir, name + ".tmp")
        meta = write_segment(
            tmp,
            name,
            next_row,
            next_article,
            sources,
            new_articles,
            vectors,
            settings.vector_index_settings(),
            reprint_bands,
        )
        tmp.rename(segment_dir(index_dir, name))
        refs.append({"name": name, "deletes": None})
        next_row += meta.rows
        next_article += meta.articles
        articles += meta.articles
        chunks += meta.rows
    new_identities = {f"{c.chunk_id}|{c.embed_hash}" for item in new_articles for c in item.chunks}
    identity = (
        (embedder.model_id, embedder.query_prompt, embedder.passage_prompt, getattr(embedder, "dtype", "float32"))
        if embedder
        else (manifest.model, manifest.query_prompt, manifest.passage_prompt, manifest.embed_dtype)  # type: ignore[union-attr]
    )
    created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    new_manifest = Manifest(
        model=identity[0],
        dim=dim,
        query_prompt=identity[1],
        passage_prompt=identity[2],
        embed_dtype=identity[3],
        chunker=asdict(settings.chunker()),
        sparse=asdict(settings.sparse()),
        articles=articles,
        chunks=chunks,
        created=created,
        versions=package_versions(),
        generation=number,
        segments=refs,
        next_row=next_row,
        next_article=next_article,
        vector_index=asdict(settings.vector_index_settings()),
        **encoder_fields(manifest, embedder),
    )
    publish(index_dir, generation, new_manifest.to_json())
    fresh_rows = sum(1 for item in new_articles for c in item.chunks if c.embed_hash in fresh)
    return BuildReport(
        articles,
        chunks,
        len(fresh),
        chunks - fresh_rows,
        len(removed_identities - new_identities),
        tuple(skipped),
        generation=generation,
        segments=len(refs),
    )


def _still_used(view: IndexView | None, refs: list[dict]) -> list[bool]:
    """A segment whose every article and source is deleted is dropped from the new generation."""
    if view is None:
        return []
    keep = []
    for segment, ref in zip(view.segments, refs, strict=True):
        dead, sources = read_deletes(segment.directory, ref.get("deletes"), segment.meta.articles)
        all_articles_dead = segment.meta.articles == 0 or (dead is not None and bool(dead.all()))
        keep.append(not (all_articles_dead and len(sources) >= segment.source_count))
    return keep
