"""`policyqa eval`: score retrieval and answers on a question set, print a table (or JSON) and write a report."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policyqa.errors import guarded
from policyqa.progress import embedding_progress

if TYPE_CHECKING:
    from eval.loaders import EvalDataset
    from eval.run import ModeRun
    from eval.settings import EvalSettings
    from indexer.embedding import Embedder
    from indexer.settings import IndexSettings
    from server.resources import Resources

MODES = ("bm25", "dense", "fused", "hybrid")
MAX_K = 50


def _fail(message: str) -> int:
    print(f"policyqa: {message}", file=sys.stderr)
    return 2


def _write_report(
    args: argparse.Namespace,
    dataset: EvalDataset,
    resources: Resources,
    index_dir: Path,
    runs: Sequence[ModeRun],
    summaries: Sequence[dict[str, Any]],
    notes: Sequence[str],
    directory: Path,
) -> Path:
    from eval.report import RunContext, git_commit, write_report
    from eval.run import misses

    manifest = resources.index.manifest
    limited = (f"--limit {args.limit}: first {len(dataset.questions)} questions only",) if args.limit else ()
    context = RunContext(
        dataset=dataset.name,
        source=str(dataset.source),
        created=time.strftime("%Y-%m-%d %H:%M:%S %z"),
        git_commit=git_commit(),
        model=manifest.model,
        embed_dtype=manifest.embed_dtype,
        dim=manifest.dim,
        index_dir=str(index_dir),
        articles=manifest.articles,
        chunks=manifest.chunks,
        chunker=manifest.chunker,
        bm25=manifest.sparse,
        retrieval=asdict(resources.retriever.config),
        k=args.k,
        notes=(*notes, *limited),
    )
    by_id = {q.id: q for q in dataset.questions}
    missed = {run.mode: misses(run, by_id) for run in runs}
    return write_report(directory, context, summaries, missed, time.strftime("%Y%m%dT%H%M%S"))


def execute(
    args: argparse.Namespace,
    embedder_factory: Callable[[IndexSettings], Embedder] | None = None,
    eval_settings: EvalSettings | None = None,
) -> int:
    """The command body; tests pass a fake embedder factory and settings with a temporary reports folder."""
    from eval.article_names import name_table, resolve_names
    from eval.indexes import prepare_index
    from eval.loaders import load_dataset
    from eval.questions import DatasetError
    from eval.report import text_table
    from eval.run import evaluate, judge, summary, unfindable
    from eval.settings import EvalSettings
    from indexer.embedding import load_embedder
    from indexer.settings import IndexSettings
    from server.resources import load_resources
    from server.settings import ServerSettings

    if not 1 <= args.k <= MAX_K:
        return _fail(f"--k must be between 1 and {MAX_K}, got {args.k}")
    if args.limit is not None and args.limit < 1:
        return _fail(f"--limit must be at least 1, got {args.limit}")
    eval_settings = eval_settings or EvalSettings()
    configured = IndexSettings(**({"index_dir": args.index_dir} if args.index_dir else {}))
    factory = embedder_factory or load_embedder
    loaded: list[Embedder] = []

    def embedder() -> Embedder:
        # One model load per command: the build (when it embeds anything) and the retrievers share it.
        if not loaded:
            loaded.append(factory(configured))
        return loaded[0]

    try:
        dataset = load_dataset(args.dataset, eval_settings).limited(args.limit)
        index_settings, built = prepare_index(dataset, configured, eval_settings, embedder, embedding_progress())
        if built.embedded:
            print(f"indexed {index_settings.index_dir}: {built.embedded} chunks embedded", file=sys.stderr)
        shared = embedder() if loaded or embedder_factory else None
        resources = load_resources(index_settings, ServerSettings(), embedder=shared)
        names = name_table([(a.article_id, a.path) for a in resources.index.iter_articles()])
        dataset = replace(dataset, questions=resolve_names(dataset.questions, names))
        judgements = judge(dataset.questions, resources.index)
    except (DatasetError, FileNotFoundError) as error:
        return _fail(str(error))
    model = resources.answerer.model
    notes = [f"answer weights: server/data/answer_model.json, sha256 {getattr(model, 'digest', 'n/a')}"]
    lost = unfindable(dataset.questions, judgements)
    if lost:
        shown = ", ".join(lost[:10]) + (" ..." if len(lost) > 10 else "")
        notes.append(f"{len(lost)} answerable question(s) have evidence that no indexed passage contains: {shown}")
        print(f"policyqa: note: {notes[-1]}", file=sys.stderr)

    modes = MODES if args.retriever == "all" else (args.retriever,)
    runs = evaluate(
        dataset.questions,
        resources.retriever,
        resources.answerer,
        modes,
        args.k,
        eval_settings.answer_passages,
        judgements=judgements,
    )
    summaries = [summary(dataset.name, run, args.k) for run in runs]
    chunks = resources.index.manifest.chunks
    print(f"{dataset.name}: {len(dataset.questions)} questions, index {index_settings.index_dir} ({chunks} chunks)")
    print(text_table(summaries))
    if not args.no_report:
        report = _write_report(
            args, dataset, resources, index_settings.index_dir, runs, summaries, notes, eval_settings.eval_reports_dir
        )
        print(f"report: {report}")
    if args.json:
        print(json.dumps(summaries if args.retriever == "all" else summaries[0], ensure_ascii=False))
    return 0


def run(args: argparse.Namespace) -> int:
    return guarded(lambda: execute(args))
