"""`policyqa serve`: build the index first if there is none, then serve the page and the API with uvicorn."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import TYPE_CHECKING

from policyqa.errors import guarded

if TYPE_CHECKING:
    from indexer.embedding import Embedder
    from indexer.settings import IndexSettings

logger = logging.getLogger("policyqa.serve")


def _configure_logging() -> None:
    # uvicorn gets log_config=None below, so its own loggers propagate here too: one format, all on stderr.
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    import jieba

    # jieba logs its dictionary loading at DEBUG through its own handler (so every line twice); faiss logs which
    # CPU build it tried. Neither helps someone reading a server log.
    jieba.setLogLevel(logging.WARNING)
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)


def _build_first_index(settings: IndexSettings) -> Embedder | None:
    """Index the corpus when the index dir holds no index; returns the model it loaded, so serving reuses it."""
    from indexer.build import build_index
    from indexer.embedding import load_embedder

    loaded: list[Embedder] = []

    def embedder_factory() -> Embedder:
        if not loaded:
            loaded.append(load_embedder(settings))
        return loaded[0]

    last_logged = [0.0]

    def progress(done: int, total: int) -> None:
        # Not a progress bar: serve's stderr is usually a log file, where one line every few seconds reads better.
        now = time.monotonic()
        if done == total or now - last_logged[0] >= 5:
            last_logged[0] = now
            logger.info("embedding passages: %d/%d", done, total)

    logger.info("no index at %s: building one from %s first", settings.index_dir, settings.corpus_dir)
    report = build_index([settings.corpus_dir], settings, embedder_factory, progress=progress)
    logger.info("indexed %d articles, %d passages in %.1f s", report.articles, report.chunks, report.seconds)
    for item in report.skipped:
        logger.warning("skipped %s: %s", item.path, item.reason)
    return loaded[0] if loaded else None


def _build_first_index_apart(settings: IndexSettings) -> None:
    """The first build in a process of its own: the supervisor forks the workers later, and the runtime's thread
    pools that embedding starts must not cross a fork (server/prefork.py)."""
    import multiprocessing

    build = multiprocessing.get_context("spawn").Process(target=_build_and_exit, args=(settings,), name="first-build")
    build.start()
    build.join()
    if build.exitcode != 0:
        raise SystemExit(f"policyqa: building the first index failed (exit code {build.exitcode}); see the log above")


def _build_and_exit(settings: IndexSettings) -> None:
    _configure_logging()
    _build_first_index(settings)


def _worker_count(args: argparse.Namespace) -> int:
    from server.workers import default_workers

    return args.workers if getattr(args, "workers", None) else default_workers()


def run(args: argparse.Namespace) -> int:
    # Read by OpenMP when torch loads, so it must be set before the first torch import. OpenMP's default spins
    # waiting threads: with the 2 cores shared (other processes, or concurrent requests each with their own
    # thread team) one query embedding measured 300-800 ms median here; with sleeping waiters, about 60.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from indexer.settings import IndexSettings
    from indexer.store import current_generation
    from server.settings import ServerSettings

    _configure_logging()
    index_settings = IndexSettings(**({"index_dir": args.index_dir} if args.index_dir else {}))
    overrides = {name: value for name in ("host", "port") if (value := getattr(args, name, None)) is not None}
    server_settings = ServerSettings(**overrides)

    def work() -> int:
        import uvicorn

        from server.app import create_app
        from server.resources import load_resources
        from server.workers import pin_search_threads, preflight

        embedder = None
        if current_generation(index_settings.index_dir) is None:
            if not index_settings.corpus_dir.exists():
                print(
                    f"policyqa: no index at {index_settings.index_dir} and no corpus at {index_settings.corpus_dir} "
                    f"to build one from: set POLICYQA_CORPUS_DIR or run `policyqa index PATH` first",
                    file=sys.stderr,
                )
                return 2
            if _worker_count(args) > 1 and not getattr(args, "ray", None):
                _build_first_index_apart(index_settings)
            else:
                embedder = _build_first_index(index_settings)
        if getattr(args, "ray", None):
            from policyqa_ray.serving import serve
            from policyqa_ray.settings import RaySettings

            shards = {"shards": args.shards} if args.shards else {}
            return serve(index_settings, server_settings, RaySettings(address=args.ray, **shards))
        workers = _worker_count(args)
        if workers > 1:
            from server.prefork import serve_prefork

            # Each worker compiles its own model; the one a first build loaded here is dropped.
            embedder = None
            preflight(index_settings)
            logger.info("starting %d workers", workers)
            serve_prefork(index_settings, server_settings, workers)
            return 0
        pin_search_threads()
        started = time.perf_counter()
        resources = load_resources(index_settings, server_settings, embedder=embedder)
        logger.info("loaded index and model in %.1f s", time.perf_counter() - started)
        app = create_app(index_settings, server_settings, resources=resources)
        # Our middleware logs every request with its latency, so uvicorn's access log would only repeat it.
        uvicorn.run(app, host=server_settings.host, port=server_settings.port, log_config=None, access_log=False)
        return 0

    if getattr(args, "ray", None):
        from policyqa_ray.cluster import RayUnavailableError

        return guarded(work, RayUnavailableError)
    return guarded(work)
