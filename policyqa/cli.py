"""`policyqa` entry point: argument parsing only; each command imports its heavy parts when it runs."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def _index_dir_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index-dir", type=Path, help="index directory (default: $POLICYQA_INDEX_DIR or ./index)")


def _ray_arg(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--ray",
        nargs="?",
        const="auto",
        default=None,
        metavar="ADDRESS",
        help=f"{what} on a Ray cluster (ADDRESS as ray.init takes it; default auto: the running cluster); "
        'needs pip install -e ".[ray]"',
    )


def _date_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date-from", help="only articles dated on or after this day (YYYY-MM-DD)")
    parser.add_argument("--date-to", help="only articles dated on or before this day (YYYY-MM-DD)")
    parser.add_argument(
        "--include-undated", action="store_true", help="with a date range: also articles without a known date"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="policyqa", description="Cited answers from Chinese articles on Chongqing district policy."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    index = commands.add_parser("index", help="index articles (incremental: only new text is embedded)")
    index.add_argument(
        "paths", nargs="*", type=Path, help="files or folders (default: $POLICYQA_CORPUS_DIR or ./corpus)"
    )
    _index_dir_arg(index)
    index.add_argument("--rebuild", action="store_true", help="re-embed everything (after changing the model)")
    index.add_argument(
        "--default-year",
        type=int,
        help="year of articles dated by month and day only, where neither the file nor its folder's "
        "_defaults.yaml gives one",
    )
    index.add_argument(
        "--compact",
        action="store_true",
        help="after indexing, merge all segments into one and rebuild its vector index (ANN when large)",
    )
    index.add_argument("--json", action="store_true", help="print one JSON summary as the last line")
    _ray_arg(index, "embed")
    index.add_argument("--actors", type=int, default=None, help="with --ray: embedding actors (default 2)")
    index.add_argument("--batch-size", type=int, default=None, help="with --ray: passages per actor batch (default 64)")

    serve = commands.add_parser("serve", help="serve the web page and the HTTP API (builds the index if missing)")
    serve.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8000)")
    serve.add_argument(
        "--workers", type=int, default=None, help="worker processes, each with its own model (default: one per core)"
    )
    _index_dir_arg(serve)
    _ray_arg(serve, "search")
    serve.add_argument("--shards", type=int, default=None, help="with --ray: shard actors (default 2)")

    search = commands.add_parser("search", help="retrieve passages for a query")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=10, help="number of passages (1-50)")
    search.add_argument("--district", help="only passages tagged with this district")
    _date_args(search)
    _index_dir_arg(search)
    search.add_argument("--json", action="store_true", help="print JSON instead of a table")

    ask = commands.add_parser("ask", help="answer a question with cited sentences")
    ask.add_argument("question")
    ask.add_argument("-k", type=int, default=5, help="passages to read (1-50)")
    ask.add_argument("--district", help="only passages tagged with this district")
    _date_args(ask)
    _index_dir_arg(ask)
    ask.add_argument("--json", action="store_true", help="print JSON instead of text")

    evaluate = commands.add_parser("eval", help="score retrieval and answers on a question set")
    evaluate.add_argument(
        "--dataset",
        default="corpus_gold",
        help="corpus_gold, district-policies, cmrc2018-trial, cmrc2018-dev, ncppolicies, a JSONL question file "
        "(over the configured corpus) or a folder with corpus.jsonl and questions.jsonl",
    )
    evaluate.add_argument(
        "--retriever",
        default="hybrid",
        choices=["bm25", "dense", "fused", "hybrid", "all"],
        help="fused: fusion only; hybrid: fusion plus district awareness (what the server uses)",
    )
    evaluate.add_argument("--k", type=int, default=10)
    evaluate.add_argument("--limit", type=int, default=None, help="only the first N questions (quick checks)")
    _index_dir_arg(evaluate)
    evaluate.add_argument("--json", action="store_true", help="print one JSON object (or list) as the last line")
    evaluate.add_argument("--no-report", action="store_true", help="do not write eval/reports/")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # OpenMP's default busy-waiting makes a query embedding 5-10x slower whenever the two cores are contended.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if args.command == "index":
        from policyqa.cmd_index import run
    elif args.command == "serve":
        from policyqa.cmd_serve import run
    elif args.command in ("search", "ask"):
        from policyqa.cmd_query import run
    else:
        from policyqa.cmd_eval import run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
