"""A query runs wide only while no other request on the machine is being served, and wide equals narrow."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from indexer.embedding import load_embedder
from indexer.encoders.batching import Batch
from indexer.encoders.machine_load import MachineLoad
from indexer.encoders.widening import WideWhenIdleRunner
from indexer.settings import IndexSettings


class FakeRunner:
    """Stands in for a compiled model (a fake): returns its name's code, optionally holding the call open."""

    def __init__(self, code: float, hold: threading.Event | None = None) -> None:
        self.code = code
        self.hold = hold
        self.entered = threading.Event()

    def run(self, batch: Batch) -> np.ndarray:
        self.entered.set()
        if self.hold is not None:
            assert self.hold.wait(10)
        return np.full((len(batch.positions), 1, 1), self.code, np.float32)

    def run_stream(self, batches):  # type: ignore[no-untyped-def]
        for batch in batches:
            yield batch, self.run(batch)


NARROW, WIDE = 1.0, 2.0


def _batch() -> Batch:
    ids = np.ones((1, 3), np.int64)
    return Batch(np.zeros(1, np.int64), ids, ids)


def _runner(tmp_path: Path, narrow: FakeRunner, wide: FakeRunner) -> WideWhenIdleRunner:
    runner = WideWhenIdleRunner(narrow, lambda: wide, MachineLoad(tmp_path / "requests.lock"))
    assert runner.wait_ready(10)
    return runner


def test_a_lone_query_runs_wide(tmp_path: Path) -> None:
    runner = _runner(tmp_path, FakeRunner(NARROW), FakeRunner(WIDE))
    assert runner.run(_batch()).item() == WIDE
    assert runner.run(_batch()).item() == WIDE  # the lock was released
    assert (runner.wide_runs, runner.narrow_runs) == (2, 0)


def test_the_wide_model_compiles_only_after_the_delay_and_never_once_stopped(tmp_path: Path) -> None:
    """Workers start before they compile their wide models; a process that exits first never compiles it."""
    compiled: list[float] = []

    def make_wide() -> FakeRunner:
        compiled.append(time.monotonic())
        return FakeRunner(WIDE)

    made = time.monotonic()
    runner = WideWhenIdleRunner(FakeRunner(NARROW), make_wide, compile_after_s=0.3)
    assert runner.run(_batch()).item() == NARROW  # not compiled yet: narrow, without waiting
    assert runner.wait_ready(10) and compiled[0] - made >= 0.3
    assert runner.run(_batch()).item() == WIDE

    never = WideWhenIdleRunner(FakeRunner(NARROW), make_wide, compile_after_s=30)
    started = time.monotonic()
    never._stop_compiling()  # what atexit runs
    assert time.monotonic() - started < 5 and len(compiled) == 1 and not never.wait_ready(0)


def test_a_query_that_finds_another_running_runs_narrow(tmp_path: Path) -> None:
    release = threading.Event()
    narrow, wide = FakeRunner(NARROW), FakeRunner(WIDE, hold=release)
    runner = _runner(tmp_path, narrow, wide)
    first: list[float] = []
    thread = threading.Thread(target=lambda: first.append(runner.run(_batch()).item()))
    thread.start()
    assert wide.entered.wait(10)
    # The first query holds the machine wide, so this one waits for it to end, then runs narrow... unless the
    # wide one is done by then, when it may run wide itself; either way it never runs wide beside another query.
    second: list[float] = []
    waiting = threading.Thread(target=lambda: second.append(runner.run(_batch()).item()))
    waiting.start()
    time.sleep(0.2)
    assert not second, "a second query ran while a wide one held the machine"
    release.set()
    thread.join(10)
    waiting.join(10)
    assert first == [WIDE] and second == [NARROW]


def test_a_request_in_flight_in_this_process_keeps_a_query_narrow(tmp_path: Path) -> None:
    runner = _runner(tmp_path, FakeRunner(NARROW), FakeRunner(WIDE))
    inside, leave = threading.Event(), threading.Event()

    def other_request() -> None:
        with runner.load.serving():
            inside.set()
            assert leave.wait(10)

    other = threading.Thread(target=other_request)
    other.start()
    assert inside.wait(10)
    with runner.load.serving():
        assert runner.run(_batch()).item() == NARROW  # retrieving or answering beside it: the other core is taken
    leave.set()
    other.join(10)
    with runner.load.serving():
        assert runner.run(_batch()).item() == WIDE


def test_a_request_served_by_another_process_keeps_this_one_narrow(tmp_path: Path) -> None:
    lock = tmp_path / "requests.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from pathlib import Path; import sys, time; from indexer.encoders.machine_load import MachineLoad;"
            " serving = MachineLoad(Path(sys.argv[1])).serving(); serving.__enter__();"
            " print('held', flush=True); time.sleep(30)",
            str(lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        runner = _runner(tmp_path, FakeRunner(NARROW), FakeRunner(WIDE))
        assert runner.run(_batch()).item() == NARROW
    finally:
        holder.kill()
        holder.wait()
    assert runner.run(_batch()).item() == WIDE


def test_wide_and_narrow_real_models_agree() -> None:
    from indexer.encoders.batching import mean_pool

    embedder = load_embedder(IndexSettings(encoder="openvino", idle_query_threads=2))
    runner = embedder.query_runner  # type: ignore[attr-defined]
    assert isinstance(runner, WideWhenIdleRunner) and runner.wait_ready(120)
    assert runner.wide is not None
    batcher = embedder.batcher  # type: ignore[attr-defined]
    for text in ["query: 潼南的柠檬产业一年产值多少？", "query: 江津区花椒种植面积有多大"]:
        batch = batcher.pad(batcher.ids([text]), np.zeros(1, np.int64))
        narrow = mean_pool(runner.narrow.run(batch), batch.attention_mask)[0]
        wide = mean_pool(runner.wide.run(batch), batch.attention_mask)[0]
        assert float(narrow @ wide) > 0.9999
