"""A query runner that uses more threads only while nobody else on the machine is being served.

One thread per query keeps both cores useful under load (two workers, one query each), but leaves a core idle when
one person asks alone. This runner holds two compiled models of the same graph, narrow (1 thread) and wide (all
cores), and runs wide only when `MachineLoad` says this is the only request on the machine (in any worker); a query
that finds the machine busy runs narrow at once. The same graph, only the work split differently: wide and narrow
vectors were bit-identical for all 164 corpus_gold questions on this CPU.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from indexer.encoders.batching import Batch
from indexer.encoders.compiled import Runner
from indexer.encoders.machine_load import MachineLoad


class WideWhenIdleRunner:
    """`run` on the wide runner when this is the only request on the machine, else on the narrow one. The wide model is
    compiled in the background `compile_after_s` after this runner is made, so a server's workers finish starting
    before they compile it (each compile is 0.4 s of CPU): until it is ready every call runs narrow."""

    def __init__(
        self,
        narrow: Runner,
        make_wide: Callable[[], Runner],
        load: MachineLoad | None = None,
        compile_after_s: float = 0.0,
    ) -> None:
        self.narrow = narrow
        self.wide: Runner | None = None
        self.load = load or MachineLoad()
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
        wide = self.wide
        if wide is not None:
            with self.load.wide_if_alone() as alone:
                if alone:
                    self.wide_runs += 1
                    return wide.run(batch)
        self.load.wait_while_wide()
        self.narrow_runs += 1
        return self.narrow.run(batch)

    def run_stream(self, batches: Iterable[Batch]) -> Iterator[tuple[Batch, np.ndarray]]:
        for batch in batches:
            yield batch, self.run(batch)
