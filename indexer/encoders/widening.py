"""A query runner that uses more threads only while nobody else on the machine is embedding.

One thread per query keeps both cores useful under load (two workers, one query each), but leaves a core idle when
one person asks alone. This runner holds two compiled models of the same graph, narrow (1 thread) and wide (all
cores), and picks per call through a lock file every server process opens: a narrow call holds it shared, a wide
call needs it exclusive and does not wait for it. So a query runs wide only when no other query in any worker is
being embedded, and a query that finds the machine busy runs narrow at once. The same graph, only the work split
differently: wide and narrow vectors were bit-identical for all 164 corpus_gold questions on this CPU.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from indexer.encoders.batching import Batch
from indexer.encoders.compiled import Runner


def default_lock_path() -> Path:
    # Per user, machine-wide: the cores are shared by every server on the machine, not one server's workers.
    return Path(tempfile.gettempdir()) / f"policyqa-query-threads-{os.getuid()}.lock"


class WideWhenIdleRunner:
    """`run` on the wide runner when it can take the lock exclusively, else on the narrow one. The wide model is
    compiled in the background `compile_after_s` after this runner is made, so a server's workers finish starting
    before they compile it (each compile is 0.4 s of CPU): until it is ready every call runs narrow."""

    def __init__(
        self,
        narrow: Runner,
        make_wide: Callable[[], Runner],
        lock_path: Path | None = None,
        compile_after_s: float = 0.0,
    ) -> None:
        self.narrow = narrow
        self.wide: Runner | None = None
        self.lock_path = lock_path or default_lock_path()
        self.lock_path.touch(exist_ok=True)
        self.wide_runs = 0
        self.narrow_runs = 0
        self._compiling = threading.Timer(compile_after_s, self._compile, args=(make_wide,))
        self._compiling.daemon = True
        self._compiling.start()
        # A process that exits while the runtime compiles on another thread can crash on the way out.
        atexit.register(self._stop_compiling)

    def _compile(self, make_wide: Callable[[], Runner]) -> None:
        self.wide = make_wide()

    def _stop_compiling(self) -> None:
        self._compiling.cancel()  # not started yet: never start (a CLI that exits must not wait to compile)
        self._compiling.join()

    def wait_ready(self, timeout: float | None = None) -> bool:
        self._compiling.join(timeout)
        return self.wide is not None

    def run(self, batch: Batch) -> np.ndarray:
        # A descriptor per call: flock locks belong to an open file, and threads of one process must conflict too.
        fd = os.open(self.lock_path, os.O_RDONLY)
        try:
            wide = self.wide
            if wide is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    pass
                else:
                    self.wide_runs += 1
                    return wide.run(batch)
            fcntl.flock(fd, fcntl.LOCK_SH)  # waits only while a wide call (a few ms) runs
            self.narrow_runs += 1
            return self.narrow.run(batch)
        finally:
            os.close(fd)  # releases the lock

    def run_stream(self, batches: Iterable[Batch]) -> Iterator[tuple[Batch, np.ndarray]]:
        for batch in batches:
            yield batch, self.run(batch)
