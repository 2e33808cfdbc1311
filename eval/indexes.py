"""The index an eval runs against: the configured one, brought up to date, or a benchmark's own cached one."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from eval.loaders import EvalDataset, corpus_jsonl
from eval.settings import EvalSettings
from indexer.build import BuildReport, Progress, build_index
from indexer.embedding import Embedder
from indexer.settings import IndexSettings

CORPUS_FILE = "corpus.jsonl"


def cache_key(corpus: bytes, settings: IndexSettings) -> str:
    """Same corpus, model, encoder and chunking give the same key, so a second run finds the vectors already
    there; each encoder gets its own index, so an eval scores the encoder's own passage vectors."""
    from indexer.encoders.select import resolve

    digest = hashlib.sha256(corpus)
    key = [settings.model, asdict(settings.chunker()), resolve(settings).id]
    digest.update(json.dumps(key, sort_keys=True).encode("utf-8"))
    return digest.hexdigest()[:16]


def benchmark_dir(dataset: EvalDataset, index_settings: IndexSettings, eval_settings: EvalSettings) -> Path:
    assert dataset.corpus is not None
    corpus = corpus_jsonl(dataset.corpus)
    folder = eval_settings.eval_cache_dir / dataset.name / cache_key(corpus, index_settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CORPUS_FILE
    if not path.exists() or path.read_bytes() != corpus:
        # Written whole then renamed, so an interrupted run never leaves a half corpus for the next one to index.
        partial = path.with_suffix(".partial")
        partial.write_bytes(corpus)
        partial.replace(path)
    return folder


def prepare_index(
    dataset: EvalDataset,
    index_settings: IndexSettings,
    eval_settings: EvalSettings,
    embedder_factory: Callable[[], Embedder],
    progress: Progress | None = None,
) -> tuple[IndexSettings, BuildReport]:
    """Index settings pointing at a current index for `dataset`; the incremental build embeds only what is new."""
    if dataset.corpus is None:
        settings, sources = index_settings, [index_settings.corpus_dir]
    else:
        folder = benchmark_dir(dataset, index_settings, eval_settings)
        settings = index_settings.model_copy(update={"index_dir": folder / "index"})
        sources = [folder / CORPUS_FILE]
    missing = [str(p) for p in sources if not p.exists()]
    if missing:
        raise FileNotFoundError(f"no such corpus: {', '.join(missing)} (set POLICYQA_CORPUS_DIR)")
    report = build_index(sources, settings, embedder_factory, progress=progress)
    return settings, report
