"""Tombstones: which articles (and source files) of an immutable segment a generation no longer serves.

Each generation that deletes from a segment writes a new, complete tombstone file for it beside the segment
(`deletes-g000000042.npz`: earlier deletions plus its own), so a file is never changed once written and an older
generation keeps reading its own. Their size grows with the deletions in that segment, which compaction bounds.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np


def read_deletes(segment: Path, name: str | None, articles: int) -> tuple[np.ndarray | None, np.ndarray]:
    """(bool mask of deleted articles or None when there are none, deleted source rows)."""
    if not name:
        return None, np.zeros(0, np.int64)
    with np.load(segment / name) as stored:
        dead_articles = stored["articles"].astype(np.int64)
        dead_sources = stored["sources"].astype(np.int64)
    mask = np.zeros(articles, bool)
    mask[dead_articles] = True
    return mask, dead_sources


def write_deletes(
    segment: Path, generation: str, previous: str | None, articles: Iterable[int], sources: Iterable[int]
) -> str:
    """Write the tombstone file of `generation` for `segment`: the previous one's entries plus the new ones."""
    old_articles, old_sources = np.zeros(0, np.int64), np.zeros(0, np.int64)
    if previous:
        with np.load(segment / previous) as stored:
            old_articles, old_sources = stored["articles"], stored["sources"]
    new_articles = np.union1d(old_articles, np.fromiter(articles, np.int64)).astype(np.int32)
    new_sources = np.union1d(old_sources, np.fromiter(sources, np.int64)).astype(np.int32)
    name = f"deletes-{generation}.npz"
    tmp = segment / f"{name}.tmp-{os.getpid()}.npz"
    np.savez(tmp, articles=new_articles, sources=new_sources)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, segment / name)
    return name
