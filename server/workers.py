"""Worker processes for `policyqa serve --workers N` (forked by server.prefork): how many, and their threads.

Every request embeds its query on one thread and searches FAISS on one thread: with N workers on N cores, more
threads per request only make the requests queue behind each other's thread teams.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from indexer.settings import IndexSettings


def default_workers() -> int:
    """One worker per core this process may run on, at least one."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def pin_search_threads() -> None:
    """FAISS's flat search ran 2.6x slower on its default OpenMP team than on one thread with the cores busy."""
    import faiss

    faiss.omp_set_num_threads(1)


def preflight(settings: IndexSettings) -> None:
    """What would make every worker fail at start-up, checked once in the supervisor without loading the model:
    otherwise uvicorn restarts the failing workers in a loop instead of exiting with the fix."""
    from indexer.encoders.compat import check_encoder
    from indexer.encoders.select import resolve
    from indexer.manifest import IndexMismatchError, Manifest
    from indexer.store import manifest_path, require_generation

    manifest = Manifest.load(manifest_path(settings.index_dir, require_generation(settings.index_dir)))
    if manifest.model != settings.model:
        raise IndexMismatchError(
            f"the index at {settings.index_dir} was built with model {manifest.model!r}, the configured model is "
            f"{settings.model!r}: set POLICYQA_MODEL={manifest.model} or re-index with `policyqa index --rebuild "
            f"--index-dir {settings.index_dir}`"
        )
    check_encoder(manifest, settings.index_dir, resolve(settings).id)
