"""Per-/ask cost of a trained span reader served as /ask would: LoRA merged into the weights, OpenVINO int8
weights, one thread; tokenise question + sentence(s), run, decode the best span. Real inputs: the current
answerer's top-k candidate sentences for CMRC 2018 dev questions (from bench/reader_candidates.py).

    .venv/bin/python bench/reader_serve_latency.py --weights /tmp/reader/l2_lora_f0.pt --k 1
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reader_latency import ONE_THREAD_INT8
from bench.train_reader import MAX_ANSWER_TOKENS, build_model


def merged(saved: dict):
    import torch

    args = saved["args"]
    model, source = build_model(int(args["layers"]), int(args["rank"]), float(args["alpha"]), args.get("top") == "True")
    model.load_state_dict(saved["state"], strict=False)
    for layer in model.bert.encoder.layer:
        for name, module in list(layer.named_modules()):
            if hasattr(module, "down"):
                parent_name, _, child = name.rpartition(".")
                base = module.base
                with torch.no_grad():
                    base.weight += (module.up @ module.down) * module.scale
                setattr(layer.get_submodule(parent_name), child, base)
    return model.eval(), source


def main() -> None:
    import openvino as ov
    import torch
    from tokenizers import Tokenizer

    from indexer.encoders.compress import compress_weights

    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--candidates", type=Path, default=Path("/tmp/reader/cmrc2018-dev.pkl"))
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--questions", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, source = merged(torch.load(args.weights))

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            start, end = self.model(input_ids, attention_mask)
            return torch.stack([start, end], dim=-1)

    ids = torch.tensor([[0, 100, 200, 300, 400, 2], [0, 500, 600, 2, 1, 1]], dtype=torch.long)
    graph = ov.convert_model(Logits().eval(), example_input={"input_ids": ids, "attention_mask": (ids != 1).long()})
    compress_weights(graph)
    request = ov.Core().compile_model(graph, "CPU", ONE_THREAD_INT8).create_infer_request()
    tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
    tokenizer.enable_truncation(128)
    items = [i for i in pickle.loads(args.candidates.read_bytes()) if i["candidates"]][: args.questions]
    times = []
    for n, item in enumerate(items):
        started = time.perf_counter()
        encodings = [tokenizer.encode(item["question"], c["text"]) for c in item["candidates"][: args.k]]
        width = max(len(e.ids) for e in encodings)
        batch = np.ones((len(encodings), width), np.int64)
        mask = np.zeros_like(batch)
        for row, e in enumerate(encodings):
            batch[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        request.infer({"input_ids": batch, "attention_mask": mask})
        logits = request.get_output_tensor(0).data
        for row, e in enumerate(encodings):
            inside = np.asarray(e.sequence_ids) == 1
            s = np.where(inside, logits[row, : len(e.ids), 0], -1e9)
            t = np.where(inside, logits[row, : len(e.ids), 1], -1e9)
            pair = s[:, None] + t[None, :]
            band = np.triu(np.ones_like(pair, bool)) & ~np.triu(np.ones_like(pair, bool), MAX_ANSWER_TOKENS)
            int(np.argmax(np.where(band, pair, -1e9)))
        if n >= 10:
            times.append((time.perf_counter() - started) * 1000)
    p50 = statistics.median(times)
    print(f"reader {args.weights.name} k={args.k}: p50 {p50:.2f} ms, p90 {np.percentile(times, 90):.2f} ms")
    print(
        json.dumps(
            {
                "weights": str(args.weights),
                "k": args.k,
                "p50_ms": round(p50, 2),
                "p90_ms": round(float(np.percentile(times, 90)), 2),
                "n": len(times),
            }
        )
    )


if __name__ == "__main__":
    main()
