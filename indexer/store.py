"""The index directory: immutable segments, generation manifests, the CURRENT pointer, the writer lock and the
readers' leases.

    index/CURRENT                     the live generation's name, replaced in one atomic rename
    index/generations/g000000042.json the manifest of a generation: settings, counts, segments and their tombstones
    index/segments/s000000007/        one segment (see indexer.segment); never modified once published
    index/leases/g000000042.lock      a shared flock held by every process reading that generation

A writer adds a segment and tombstone files, writes a new manifest and swaps CURRENT, so it writes in proportion
to what changed and a reader sees either the old generation or the new one, never a mix. Killing a writer at any
moment leaves the last published generation intact. Old manifests and the segments only they reference are
deleted once no process holds their lease; the kernel drops a dead reader's flock, so no lease goes stale.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

CURRENT = "CURRENT"
GENERATIONS = "generations"
SEGMENTS = "segments"
LEASES = "leases"
_LOCK = ".lock"
_TMP = ".tmp"


class IndexNotFoundError(FileNotFoundError):
    """No complete index exists at the given directory."""


class IndexLockedError(RuntimeError):
    """Another indexer holds the writer lock."""


def manifest_path(index_dir: Path, generation: str) -> Path:
    return index_dir / GENERATIONS / f"{generation}.json"


def generation_name(number: int) -> str:
    return f"g{number:09d}"


def generation_number(name: str) -> int:
    return int(name.removeprefix("g"))


def current_generation(index_dir: Path) -> str | None:
    pointer = index_dir / CURRENT
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name if name and manifest_path(index_dir, name).exists() else None


def require_generation(index_dir: Path) -> str:
    generation = current_generation(index_dir)
    if generation is None:
        raise IndexNotFoundError(f"no index at {index_dir}: build one with `policyqa index --index-dir {index_dir}`")
    return generation


def next_generation_number(index_dir: Path) -> int:
    """One past every generation on disk, published or not: names are never reused, even after --rebuild."""
    numbers = [generation_number(p.stem) for p in (index_dir / GENERATIONS).glob("g*.json")]
    live = current_generation(index_dir)
    if live:
        numbers.append(generation_number(live))
    return max(numbers, default=0) + 1


def segment_dir(index_dir: Path, name: str) -> Path:
    return index_dir / SEGMENTS / name


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str) -> None:
    """Write whole, sync, then rename over: a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}{_TMP}-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


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


def publish(index_dir: Path, generation: str, manifest_json: str) -> None:
    """Write the generation's manifest, then point CURRENT at it: the rename is the moment it goes live."""
    write_atomic(manifest_path(index_dir, generation), manifest_json)
    write_atomic(index_dir / CURRENT, generation + "\n")


class Lease:
    """A shared flock on a generation's lease file, held while a process reads that generation."""

    def __init__(self, index_dir: Path, generation: str) -> None:
        path = index_dir / LEASES / f"{generation}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: object | None = open(path, "a+b")  # noqa: SIM115 - held for the lease's lifetime
        fcntl.flock(self._handle, fcntl.LOCK_SH)

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()  # type: ignore[attr-defined]


def acquire(index_dir: Path) -> tuple[str, Lease]:
    """Lease the live generation. Retries when a writer publishes and collects between the read and the lock."""
    for _ in range(100):
        generation = require_generation(index_dir)
        lease = Lease(index_dir, generation)
        if manifest_path(index_dir, generation).exists():
            return generation, lease
        lease.release()
    raise IndexNotFoundError(f"the index at {index_dir} kept changing while it was being opened; try again")


def _unleased(index_dir: Path, generation: str) -> bool:
    """True (and the lease file removed) when no process reads `generation`."""
    path = index_dir / LEASES / f"{generation}.lock"
    if not path.exists():
        return True
    with open(path, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        path.unlink(missing_ok=True)
        return True


def collect_garbage(index_dir: Path, referenced_by: dict[str, set[str]]) -> None:
    """Under the writer lock: drop generations nobody reads (never CURRENT), then every segment and tombstone file
    no remaining generation references, and whatever a killed writer left half-written.

    `referenced_by` maps each generation's name to the files it uses, as "segment" or "segment/file" entries."""
    live = current_generation(index_dir)
    kept: set[str] = set()
    for generation, files in referenced_by.items():
        if generation == live or not _unleased(index_dir, generation):
            kept |= files
            continue
        manifest_path(index_dir, generation).unlink(missing_ok=True)
    for path in (index_dir / GENERATIONS).glob(f"*{_TMP}-*"):
        path.unlink(missing_ok=True)
    for path in index_dir.glob(f"{CURRENT}{_TMP}-*"):
        path.unlink(missing_ok=True)
    segments = index_dir / SEGMENTS
    if not segments.exists():
        return
    kept_segments = {entry.split("/")[0] for entry in kept}
    for directory in segments.iterdir():
        if directory.name not in kept_segments:
            shutil.rmtree(directory, ignore_errors=True)
            continue
        for extra in directory.glob("deletes-*"):
            if f"{directory.name}/{extra.name}" not in kept:
                extra.unlink(missing_ok=True)
    for leftover in index_dir.glob("gen-*"):
        # Generation folders of the format before segments (format 2): replaced by the rebuild that found them.
        shutil.rmtree(leftover, ignore_errors=True)
