"""`policyqa eval`: score retrieval and answers on a question set, print a table (or JSON) and write a report."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from policyqa.errors import guarded

if TYPE_CHECKING:
    from eval.settings import EvalSettings
    from indexer.embedding import Embedder
    from indexer.settings import IndexSettings
    from server.resources import Resources

MODES = ("bm25", "dense", "rrf", "hybrid")
MAX_K = 50


def _fail(message: str) -> int:
    print(f"policyqa: {message}", file=sys.stderr)
    return 2


def _embedding_progress() -> Callable[[int, int], None]:
    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if not sys.stderr.isatty():
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="chunk", desc="embedding", file=sys.stderr)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return progress


def _resources(index_settings: IndexSettings, embedder: Embedder | None) -> tuple[Resources | Any, list[str]]:
    """The server's resources; without server.answering (not yet installed) retrieval alone, with a note."""
    from server.settings import ServerSettings

    try:
        from server.resources import load_resources
    except ModuleNotFoundError as error:
        if error.name != "server.answering":
            raise
        return _retrieval_only(index_settings, ServerSettings(), embedder), [
            "answer metrics skipped: server.answering is not available"
        ]
    return load_resources(index_settings, ServerSettings(), embedder=embedder), []


def _retrieval_only(index_settings: IndexSettings, server_settings: Any, embedder: Embedder | None) -> Any:
    from types import SimpleNamespace

    from indexer.districts import Gazetteer, make_tokenizer
    from indexer.embedding import load_embedder
    from indexer.reader import load_index
    from indexer.sparse import SparseTokenizer, load_stopwords
    from server.retrieval import Retriever

    index = load_index(index_settings.index_dir)
    embedder = embedder or load_embedder(index_settings)
    gazetteer = Gazetteer.load()
    tokenizer = SparseTokenizer(make_tokenizer(gazetteer), load_stopwords())
    retriever = Retriever.create(index, embedder, tokenizer, gazetteer, server_settings.retrieval())
    return SimpleNamespace(index=index, embedder=embedder, retriever=retriever, answerer=None)


def execute(
    args: argparse.Namespace,
    embedder_factory: Callable[[IndexSettings], Embedder] | None = None,
    eval_settings: EvalSettings | None = None,
) -> int:
    """The command body; tests pass a fake embedder factory and settings with a temporary reports folder."""
    from eval.indexes import prepare_index
    from eval.loaders import load_dataset
    from eval.questions import DatasetError
    from eval.report import RunContext, git_commit, text_table, write_report
    from eval.run import evaluate, misses, summary
    from eval.settings import EvalSettings
    from indexer.embedding import load_embedder
    from indexer.settings import IndexSettings

    if not 1 <= args.k <= MAX_K:
        return _fail(f"--k must be between 1 and {MAX_K}, got {args.k}")
    if args.limit is not None and args.limit < 1:
        return _fail(f"--limit must be at least 1, got {args.limit}")
    eval_settings = eval_settings or EvalSettings()
    index_settings = IndexSettings(**({"index_dir": args.index_dir} if args.index_dir else {}))
    factory = embedder_factory or load_embedder
    model_settings = index_settings
    loaded: list[Embedder] = []

    def embedder() -> Embedder:
        # One model load per command: the build (if it embeds anything) and the retrievers share it.
        if not loaded:
            loaded.append(factory(model_settings))
        return loaded[0]

    try:
        dataset = load_dataset(args.dataset, eval_settings).limited(args.limit)
        index_settings, built = prepare_index(dataset, index_settings, eval_settings, embedder, _embedding_progress())
        if built.embedded:
            print(f"indexed {index_settings.index_dir}: {built.embedded} chunks embedded", file=sys.stderr)
        resources, notes = _resources(index_settings, embedder() if loaded or embedder_factory else None)
        modes = MODES if args.retriever == "all" else (args.retriever,)
        for note in notes:
            print(f"policyqa: {note}", file=sys.stderr)
        runs = evaluate(
            dataset.questions, resources.retriever, resources.answerer, modes, args.k, eval_settings.answer_passages
        )
    except (DatasetError, FileNotFoundError) as error:
        return _fail(str(error))

    summaries = [summary(dataset.name, run, args.k) for run in runs]
    print(
        f"{dataset.name}: {len(dataset.questions)} questions, index {index_settings.index_dir} "
        f"({len(resources.index.chunks)} chunks)"
    )
    print(text_table(summaries))
    if not args.no_report:
        manifest = resources.index.manifest
        context = RunContext(
            dataset=dataset.name,
            source=str(dataset.source),
            created=time.strftime("%Y-%m-%d %H:%M:%S %z"),
            git_commit=git_commit(),
            model=manifest.model,
            embed_dtype=manifest.embed_dtype,
            dim=manifest.dim,
            index_dir=str(index_settings.index_dir),
            articles=manifest.articles,
            chunks=manifest.chunks,
            chunker=manifest.chunker,
            retrieval=asdict(resources.retriever.config),
            k=args.k,
            notes=(
                *notes,
                *((f"--limit {args.limit}: first {len(dataset.questions)} questions only",) if args.limit else ()),
            ),
        )
        by_id = {q.id: q for q in dataset.questions}
        report = write_report(
            eval_settings.eval_reports_dir,
            context,
            summaries,
            {run.mode: misses(run, by_id) for run in runs},
            time.strftime("%Y%m%dT%H%M%S"),
        )
        print(f"report: {report}")
    if args.json:
        print(json.dumps(summaries if args.retriever == "all" else summaries[0], ensure_ascii=False))
    return 0


def run(args: argparse.Namespace) -> int:
    return guarded(lambda: execute(args))
