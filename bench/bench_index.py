"""Indexing benchmark: throughput on the ncppolicies corpus and the no-op re-index time on the seed corpus.

    .venv/bin/python bench/bench_index.py [--shared ../shared] [--work /tmp/policyqa-bench-index]

Prints figures; asserts nothing (targets: >= 25 chunks/s embedding, no-op re-index < 1 s).
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


def embedding_rate(paths: list[Path], index_dir: Path) -> tuple[int, float, float]:
    """Chunks per second of the embedding stage alone, measured in-process around build_index's embedder."""
    from indexer.build import build_index
    from indexer.embedding import load_embedder
    from indexer.settings import IndexSettings

    settings = IndexSettings(index_dir=index_dir)
    embedder = load_embedder(settings)
    seconds = [0.0]

    class Timed:
        model_id, dim = embedder.model_id, embedder.dim
        query_prompt, passage_prompt, dtype = embedder.query_prompt, embedder.passage_prompt, embedder.dtype

        def embed_queries(self, texts):
            return embedder.embed_queries(texts)

        def embed_passages(self, texts):
            started = time.perf_counter()
            try:
                return embedder.embed_passages(texts)
            finally:
                seconds[0] += time.perf_counter() - started

    started = time.perf_counter()
    report = build_index(paths, settings, lambda: Timed())
    return report.embedded, seconds[0], time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/policyqa-bench-index"))
    parser.add_argument("--skip-ncp", action="store_true", help="only the seed-corpus figures")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    figures: dict[str, float | int] = {}

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
        embedded, embed_s, total_s = embedding_rate([corpus], args.work / "ncp")
        figures.update(
            ncp_chunks_embedded=embedded,
            ncp_embed_s=round(embed_s, 1),
            ncp_total_s=round(total_s, 1),
            ncp_embed_chunks_per_s=round(embedded / embed_s, 1),
            ncp_end_to_end_chunks_per_s=round(embedded / total_s, 1),
        )
        print(
            f"ncppolicies: {embedded} chunks embedded in {embed_s:.1f} s = {embedded / embed_s:.1f} chunks/s "
            f"(embedding); {embedded / total_s:.1f} chunks/s end to end ({total_s:.1f} s incl. reading, BM25, write)"
        )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
