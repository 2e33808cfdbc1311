"""Serving on every core: gunicorn forks uvicorn workers after the loads they can share.

What every worker needs and can share — jieba's dictionary, the encoder's tokenizer, the converted graph's folder
(`server.resources.Preloaded`, about 1.5 s of CPU) — loads once in the supervisor before it forks. Each worker then
opens the index and compiles its own model in its lifespan: runtime thread pools and SQLite connections must not
cross a fork. uvicorn's own supervisor spawns fresh interpreters instead, and each one loaded everything again: with
two workers on two cores they competed for the cores and start-up took 3.3-3.5 s (issue 11).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gunicorn.app.base import BaseApplication

from server.workers import pin_search_threads

if TYPE_CHECKING:
    from fastapi import FastAPI

    from indexer.settings import IndexSettings
    from server.settings import ServerSettings

logger = logging.getLogger("policyqa.serve")
WORKER_CLASS = "uvicorn_worker.UvicornWorker"
# gunicorn restarts a worker silent for this long; loading the torch encoder in a worker can take tens of seconds.
WORKER_TIMEOUT_S = 120


class PreforkServer(BaseApplication):  # type: ignore[misc]  # gunicorn has no type hints
    """gunicorn's documented way to run from code: options set here, not parsed from the command line."""

    def __init__(self, load_app: Callable[[], FastAPI], options: dict[str, Any]) -> None:
        self._load_app = load_app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> FastAPI:
        return self._load_app()


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def serve_prefork(index_settings: IndexSettings, server_settings: ServerSettings, workers: int) -> None:
    """Blocks until the server stops. A worker that fails to load stops the whole server (gunicorn exits with 3)
    rather than being restarted in a loop."""

    def load_app() -> FastAPI:
        from server.app import create_app
        from server.resources import preload

        started = time.perf_counter()
        preloaded = preload(index_settings)
        logger.info(
            "loaded what the workers share in %.1f s; forking %d workers", time.perf_counter() - started, workers
        )
        return create_app(index_settings, server_settings, preloaded=preloaded)

    options = {
        "bind": bind_address(server_settings.host, server_settings.port),
        "workers": workers,
        "worker_class": WORKER_CLASS,
        "preload_app": True,
        "timeout": WORKER_TIMEOUT_S,
        # Our middleware logs every request with its latency; gunicorn's access log would only repeat it.
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
        "post_fork": lambda _arbiter, _worker: pin_search_threads(),
        # Its default path is one per user: a second server on the machine would take over the first one's socket.
        "control_socket_disable": True,
    }
    PreforkServer(load_app, options).run()
