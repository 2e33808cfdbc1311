"""Serving on every core: uvicorn worker processes, each loading the index and the model once.

uvicorn starts more than one worker only from an import string, so `policyqa serve --workers N` points it at
`server.workers:worker_app` (a factory) and passes the settings through the environment, which the workers
inherit. Every request embeds its query on one thread and searches FAISS on one thread: with N workers on N
cores, more threads per request only make the requests queue behind each other's thread teams.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from indexer.settings import IndexSettings

APP_FACTORY = "server.workers:worker_app"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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


def worker_app() -> FastAPI:
    """Called by uvicorn in each worker process: settings from the environment, resources loaded in the lifespan
    (so a worker answers /healthz only once its index and model are loaded)."""
    from indexer.settings import IndexSettings
    from server.app import create_app
    from server.settings import ServerSettings

    # A spawned worker starts with no logging set up: the same one-format stderr log as the parent's.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format=LOG_FORMAT, force=True)
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    pin_search_threads()
    return create_app(IndexSettings(), ServerSettings())
