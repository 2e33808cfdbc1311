"""Reprint groups across the segments of one generation: which indexed passages share an LSH band key with new
ones (index time, indexer.reprints), and which live rows belong to a group (query time, server.reprint_sources).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from indexer.reader import IndexView


def band_collisions(index: IndexView, keys: np.ndarray) -> list[tuple[int, int]]:
    """(index into `keys`, live row) for every indexed passage sharing an LSH band key with a row of `keys`."""
    wanted: dict[int, list[int]] = {}
    for i, row in enumerate(keys.tolist()):
        for key in row:
            if key:
                wanted.setdefault(key, []).append(i)
    found: list[tuple[int, int]] = []
    if not wanted:
        return found
    lookup = np.fromiter(wanted, np.uint64, len(wanted))
    for segment, base, live in zip(index.segments, index.bases.tolist(), index.live, strict=True):
        bands = segment.reprint_bands
        if bands is None or bands.shape[1] != keys.shape[1]:
            continue
        hit = np.isin(np.asarray(bands), lookup)
        if live is not None:
            hit &= live[:, None]
        for local, band in zip(*np.nonzero(hit), strict=True):
            found.extend((i, base + int(local)) for i in wanted[int(bands[local, band])])
    return found


def group_members(index: IndexView, groups: Sequence[str]) -> dict[str, list[int]]:
    """Live rows of each reprint group, in index order."""
    found: dict[str, list[int]] = {}
    for segment, base, live in zip(index.segments, index.bases.tolist(), index.live, strict=True):
        for local, group in segment.group_members(groups):
            if live is None or live[local]:
                found.setdefault(group, []).append(base + local)
    return {g: sorted(set(rows)) for g, rows in found.items()}
