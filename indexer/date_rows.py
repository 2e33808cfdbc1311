"""Rows by their article's date, for the date filter and for time in ranking (server.time_filter, time_ranking).

Each segment holds its articles' first and last possible day (`Segment.article_days`); these helpers map rows to
them across the segments of one generation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from indexer.reader import IndexView, RowMasks


def date_masks(index: IndexView, first: int | None, last: int | None, include_undated: bool) -> RowMasks:
    """Live rows whose article's date lies wholly within [first, last] (proleptic ordinals, None: open), plus
    the rows of undated articles when `include_undated`."""
    masks: RowMasks = []
    for segment, live in zip(index.segments, index.live, strict=True):
        begins, ends = segment.article_days()
        ok = begins >= 0
        if first is not None:
            ok &= begins >= first
        if last is not None:
            ok &= ends <= last
        if include_undated:
            ok |= begins < 0
        rows = ok[segment.chunk_article] if segment.meta.rows else np.zeros(0, bool)
        masks.append(rows if live is None else rows & live)
    return masks


def row_days(index: IndexView, rows: Sequence[int]) -> dict[int, tuple[int, int]]:
    """(first, last) day of each dated row's article (proleptic ordinals); undated rows are left out."""
    found: dict[int, tuple[int, int]] = {}
    for position, locals_ in index._split(rows).items():
        segment = index.segments[position]
        begins, ends = segment.article_days()
        articles = segment.chunk_article[np.asarray(locals_, np.int64)]
        base = int(index.bases[position])
        for local, a in zip(locals_, articles.tolist(), strict=True):
            if begins[a] >= 0:
                found[base + local] = (int(begins[a]), int(ends[a]))
    return found
