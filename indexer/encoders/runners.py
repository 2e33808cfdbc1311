"""The two runtimes behind `Runner`: OpenVINO (compiled IR) and ONNX Runtime (an int8 or fp32 graph).

Thread counts are fixed here, explicitly, because the runtimes' defaults (every core, pinned, spinning) are what
made one query ten times slower whenever the two cores were shared with another worker or process.
"""

from __future__ import annotations

import queue
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from indexer.encoders.batching import Batch


class OpenVinoRunner:
    """One compiled model; `streams` infer requests run in parallel, `threads` threads in all."""

    def __init__(self, graph: Path, precision: str, threads: int, streams: int, quantise_group: int = 0) -> None:
        import openvino as ov

        config = {
            "INFERENCE_PRECISION_HINT": precision,  # "bf16" or "f32"; the graph on disk is fp32
            # With int8 weights: activations quantised to int8 per group of this many values (0: kept in float).
            "DYNAMIC_QUANTIZATION_GROUP_SIZE": quantise_group,
            "INFERENCE_NUM_THREADS": max(threads, streams),
            "NUM_STREAMS": streams,
            # Pinning would put every worker process's threads on the same cores.
            "ENABLE_CPU_PINNING": False,
        }
        self._compiled: Any = ov.Core().compile_model(str(graph), "CPU", config)
        self._streams = streams
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def run(self, batch: Batch) -> np.ndarray:
        # An infer request serves one call at a time; concurrent callers each take an idle one (made on demand).
        try:
            request = self._idle.get_nowait()
        except queue.Empty:
            request = self._compiled.create_infer_request()
        try:
            request.infer(batch.feed())
            return request.get_output_tensor(0).data.copy()
        finally:
            self._idle.put(request)

    def run_stream(self, batches: Iterable[Batch]) -> Iterator[tuple[Batch, np.ndarray]]:
        import openvino as ov

        if self._streams == 1:
            for batch in batches:
                yield batch, self.run(batch)
            return
        done: list[tuple[Batch, np.ndarray]] = []
        jobs = ov.AsyncInferQueue(self._compiled, self._streams)
        # Called on OpenVINO's thread as each request finishes, while Python pads the next batch.
        jobs.set_callback(lambda request, batch: done.append((batch, request.get_output_tensor(0).data.copy())))
        for batch in batches:
            jobs.start_async(batch.feed(), batch)
            while done:
                yield done.pop()
        jobs.wait_all()
        while done:
            yield done.pop()


class OnnxRunner:
    """One session on one thread per call; a stream runs `streams` calls at once (the session is thread-safe)."""

    def __init__(self, graph: Path, threads: int, streams: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Spinning workers burn the core a neighbouring worker needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session: Any = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self._streams = streams

    def run(self, batch: Batch) -> np.ndarray:
        return self._session.run(None, batch.feed())[0]

    def run_stream(self, batches: Iterable[Batch]) -> Iterator[tuple[Batch, np.ndarray]]:
        if self._streams == 1:
            for batch in batches:
                yield batch, self.run(batch)
            return
        with ThreadPoolExecutor(self._streams) as pool:
            yield from pool.map(lambda batch: (batch, self.run(batch)), batches)
