"""Which corpus files are new, changed or gone since the last published generation.

A file whose size and modification time match what was recorded is taken as unchanged without reading it (as
git and rsync do), so scanning a large corpus costs a `stat` per file; anything else is hashed. A file that
cannot be read is reported and keeps whatever the index already holds from it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from indexer.records import Skipped
from indexer.sources import iter_source_files

if TYPE_CHECKING:
    from indexer.reader import IndexView


@dataclass(frozen=True)
class FileStat:
    file_hash: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class SourceState:
    """A live source file as the index recorded it: where (segment position, source row) and what it yielded."""

    position: int
    source_row: int
    stat: FileStat
    article_locals: tuple[int, ...]


@dataclass
class Scan:
    changed: list[tuple[Path, Path]] = field(default_factory=list)  # (file, root for article ids)
    stats: dict[str, FileStat] = field(default_factory=dict)  # resolved path -> its state now
    gone: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def live_sources(view: IndexView) -> dict[str, SourceState]:
    found: dict[str, SourceState] = {}
    for position, (segment, dead) in enumerate(zip(view.segments, view.dead_sources, strict=True)):
        dead_rows = set(dead.tolist())
        for row, path, file_hash, size, mtime, articles in segment.sources():
            if row not in dead_rows:
                found[path] = SourceState(position, row, FileStat(file_hash, size, mtime), tuple(articles))
    return found


def _hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def scan_sources(paths: Sequence[Path], old: dict[str, SourceState], rechunk_all: bool) -> Scan:
    scan = Scan()
    unreadable: set[str] = set()
    for given in paths:
        root = given if given.is_dir() else given.parent
        for file in iter_source_files([given]):
            key = str(file.resolve())
            if key in scan.stats or key in unreadable:
                continue
            previous = old.get(key)
            try:
                info = os.stat(file)
                if previous and (previous.stat.size, previous.stat.mtime_ns) == (info.st_size, info.st_mtime_ns):
                    stat = previous.stat
                else:
                    stat = FileStat(_hash(file), info.st_size, info.st_mtime_ns)
            except OSError as error:
                unreadable.add(key)
                kept = " (its indexed articles are kept)" if previous else ""
                scan.skipped.append(Skipped(str(file), f"cannot read: {error.strerror or error}{kept}"))
                continue
            scan.stats[key] = stat
            if rechunk_all or previous is None or previous.stat.file_hash != stat.file_hash:
                scan.changed.append((file, root))
    for key in old:
        if key in scan.stats or key in unreadable:
            continue
        if rechunk_all or not Path(key).exists():
            scan.gone.append(key)
    return scan
