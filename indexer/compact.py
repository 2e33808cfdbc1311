"""Compaction: merge segments (dropping deleted articles) and (re)build their approximate vector index.

`policyqa index --compact` merges everything into one segment. After every indexing run, `auto_compact` merges
just enough to keep the segment count and the share of deleted rows bounded: the smallest segments first, so the
large, ANN-indexed base segment is rewritten only when many of its rows are deleted.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from indexer.compaction_policy import CompactionPolicy
from indexer.merge import MergePart, merge_segments
from indexer.reader import IndexView
from indexer.store import current_generation, generation_name, next_generation_number, publish, segment_dir
from indexer.vector_index import VectorIndexSettings


@dataclass(frozen=True)
class CompactionReport:
    merged: int  # segments merged
    rows: int  # rows in the merged segment
    vector_index: str
    seconds: float
    generation: str | None


def _live_rows(view: IndexView) -> list[int]:
    return [s.meta.rows if live is None else int(live.sum()) for s, live in zip(view.segments, view.live, strict=True)]


def plan(view: IndexView, policy: CompactionPolicy) -> list[int]:
    """Positions of the segments to merge now ([] when the index is in shape)."""
    live = _live_rows(view)
    chosen = {
        i
        for i, (segment, rows) in enumerate(zip(view.segments, live, strict=True))
        if segment.meta.rows and 1 - rows / segment.meta.rows > policy.max_deleted_fraction
    }
    if len(view.segments) > policy.max_segments:
        by_size = sorted(range(len(view.segments)), key=lambda i: live[i])
        chosen |= set(by_size[: len(view.segments) - policy.max_segments // 2 + 1])
    return sorted(chosen)


def merge_into_new_generation(
    index_dir: Path, view: IndexView, positions: list[int], settings: VectorIndexSettings
) -> CompactionReport:
    """Merge the segments at `positions` into one and publish the generation that reads it (writer lock held)."""
    started = time.perf_counter()
    manifest = view.manifest
    number = next_generation_number(index_dir)
    name = f"s{number:09d}"
    parts = [MergePart(view.segments[i], view.dead_articles[i], view.dead_sources[i]) for i in positions]
    tmp = segment_dir(index_dir, name + ".tmp")
    meta = merge_segments(tmp, name, manifest.next_row, manifest.next_article, parts, settings)
    tmp.rename(segment_dir(index_dir, name))
    merged = set(positions)
    # The merged segment goes last: its rows are numbered after every other segment's, keeping bases ascending.
    refs = [dict(ref) for i, ref in enumerate(manifest.segments) if i not in merged]
    refs.append({"name": name, "deletes": None})
    new = replace(
        manifest,
        generation=number,
        segments=refs,
        next_row=manifest.next_row + meta.rows,
        next_article=manifest.next_article + meta.articles,
        vector_index=asdict(settings),
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    publish(index_dir, generation_name(number), new.to_json())
    seconds = time.perf_counter() - started
    return CompactionReport(len(positions), meta.rows, meta.vector_index, seconds, generation_name(number))


def auto_compact(index_dir: Path, settings: VectorIndexSettings, policy: CompactionPolicy) -> CompactionReport | None:
    if current_generation(index_dir) is None:
        return None
    with IndexView.open(index_dir) as view:
        positions = plan(view, policy)
        if not positions:
            return None
        return merge_into_new_generation(index_dir, view, positions, settings)


def compact_all(index_dir: Path, settings: VectorIndexSettings) -> CompactionReport:
    """Everything into one segment, with the vector index the settings choose for its size (writer lock held)."""
    with IndexView.open(index_dir) as view:
        positions = list(range(len(view.segments)))
        if not positions:
            return CompactionReport(0, 0, "Flat", 0.0, view.generation)
        return merge_into_new_generation(index_dir, view, positions, settings)


def deleted_share(view: IndexView) -> float:
    total = sum(s.meta.rows for s in view.segments)
    return 1 - sum(_live_rows(view)) / total if total else 0.0
