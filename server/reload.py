"""Live reload: a running server picks up each newly published index generation and swaps it in atomically.

Each request takes the current `Resources` (one generation) at its start and keeps it to the end, so requests in
flight finish on the generation they started on and none sees a mix. The swapped-out generation is closed, which
releases its lease so the indexer may delete its files, once the last request using it has finished. Segments
are immutable, so the new generation reuses the old one's open segments and only opens what is new.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from indexer.reader import IndexView
from indexer.store import current_generation
from server.resources import Resources, with_index

logger = logging.getLogger("policyqa.reload")


@dataclass
class _Slot:
    resources: Resources
    users: int = 0
    retired: bool = False
    loaded_at: float = field(default_factory=time.time)


class LiveResources:
    def __init__(self, resources: Resources, nprobe: int | None = None) -> None:
        self._slot = _Slot(resources)
        self._nprobe = nprobe
        self._lock = threading.Lock()
        self._reloading = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def current(self) -> Resources:
        return self._slot.resources

    @property
    def loaded_at(self) -> float:
        return self._slot.loaded_at

    @contextmanager
    def use(self) -> Iterator[Resources]:
        with self._lock:
            slot = self._slot
            slot.users += 1
        try:
            yield slot.resources
        finally:
            with self._lock:
                slot.users -= 1
                done = slot.retired and slot.users == 0
            if done:
                slot.resources.index.close()

    def reload(self) -> bool:
        """Swap in the published generation if it is not the one being served; True when it swapped."""
        with self._reloading:
            old = self._slot
            index_dir = old.resources.index.directory
            if current_generation(index_dir) in (None, old.resources.index.generation):
                return False
            fresh = self.open_published(old.resources)
            view = fresh.index
            with self._lock:
                self._slot = _Slot(fresh)
                old.retired = True
                idle = old.users == 0
            if idle:
                old.resources.index.close()
            logger.info("now serving index generation %s (%d articles)", view.generation, view.article_count)
            return True

    def open_published(self, old: Resources) -> Resources:
        """The published generation with `old`'s model and answerer (policyqa_ray overrides it to open the
        generation on its shards); reuses the segments `old` has open."""
        cache = {s.name: s for s in old.index.segments}
        view = IndexView.open(old.index.directory, cache, self._nprobe)
        try:
            return with_index(old, view)
        except BaseException:
            view.close()
            raise

    def watch(self, interval_s: float) -> None:
        """Poll CURRENT every `interval_s` seconds in a daemon thread (a stat and a small read per poll)."""

        def loop() -> None:
            while not self._stop.wait(interval_s):
                try:
                    self.reload()
                except Exception:
                    # A half-visible or broken generation must not stop the server: keep serving the old one.
                    logger.exception("reloading the index failed; still serving the previous generation")

        self._thread = threading.Thread(target=loop, name="policyqa-index-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
