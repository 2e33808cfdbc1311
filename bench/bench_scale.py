"""Scale benchmark: a synthetic corpus of N passages built through the real indexer code, then measured as a server
and an operator would see it.

    .venv/bin/python bench/bench_scale.py --chunks 100000 [--json] [--work /tmp/policyqa-scale]

What is real and what stands in:
- Originals: every passage of the real corpora at hand (seed corpus, CMRC 2018 trial and dev, ncppolicies), with
  their real-model vectors, computed once through the eval indexes (cached in ~/.cache/policyqa/eval).
- Copies: each synthetic article is a perturbed copy of an original article (digits replaced, other district
  names swapped in at the same length), so vocabulary, lengths and chunk offsets stay realistic. A copy REUSES ITS
  ORIGINAL'S BM25 TOKENS (jieba over a million passages would take most of an hour) and gets the original's
  real-model vector plus small deterministic noise (STAND-IN VECTORS, cosine about 0.93 to the original), so the
  neighbourhood structure that approximate search depends on is the real model's.
- Indexing: segments are written, published, tombstoned and compacted (IVF trained) by the real indexer code;
  the later add/remove runs go through `build_index` on real files with a STAND-IN EMBEDDER (hashed bigrams):
  embedding time is excluded, as the targets say. The real model's throughput is bench/bench_index.py's.
- Queries: CMRC 2018 trial and corpus_gold questions, embedded once by the real model; retrieval latency
  excludes query encoding (a stand-in embedder hands back the precomputed vector).

The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scale_corpus import (  # noqa: E402
    StandInEmbedder,
    load_originals,
    load_queries,
    synthesize,
)
from bench.scale_measure import measure_server  # noqa: E402


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def written_since(path: Path, before: dict[str, tuple[int, int]]) -> int:
    """Bytes of files that are new or rewritten since `before` (a map of path -> (inode, mtime))."""
    total = 0
    for p in path.rglob("*"):
        if p.is_file():
            stat = p.stat()
            if before.get(str(p)) != (stat.st_ino, stat.st_mtime_ns):
                total += stat.st_size
    return total


def file_states(path: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_ino, p.stat().st_mtime_ns) for p in path.rglob("*") if p.is_file()}


def timed_run(paths: list[Path], settings, index_dir: Path) -> tuple[float, int, object]:
    from indexer.build import build_index

    before = file_states(index_dir)
    started = time.perf_counter()
    report = build_index(paths, settings, StandInEmbedder)
    return time.perf_counter() - started, written_since(index_dir, before), report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/policyqa-scale"))
    parser.add_argument("--batches", type=int, default=4, help="indexing runs the initial corpus arrives in")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--json", action="store_true", help="(the JSON line is always printed last)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from indexer.build import add_prepared, compact_index
    from indexer.settings import IndexSettings

    shutil.rmtree(args.work, ignore_errors=True)
    corpus, index_dir = args.work / "corpus", args.work / "index"
    corpus.mkdir(parents=True)
    figures: dict[str, object] = {"chunks_target": args.chunks}

    started = time.perf_counter()
    originals = load_originals(args.shared)
    queries = load_queries(args.shared, args.queries)
    figures["originals"] = {"articles": len(originals.articles), "passages": originals.passages}
    figures["prepare_originals_s"] = round(time.perf_counter() - started, 1)
    print(f"originals: {len(originals.articles)} articles, {originals.passages} passages with real-model vectors")

    # The operator's settings; automatic compaction waits until the initial load is in (then one full compaction).
    settings = IndexSettings(index_dir=index_dir, model=StandInEmbedder.MODEL, max_segments=10_000)
    stages = {"synthesise_s": 0.0, "write_segments_s": 0.0}
    total = 0
    per_batch = -(-args.chunks // args.batches)
    for batch in range(args.batches):
        t0 = time.perf_counter()
        articles, sources, vectors = synthesize(originals, corpus, batch, min(per_batch, args.chunks - total))
        t1 = time.perf_counter()
        add_prepared(settings, StandInEmbedder(), articles, sources, vectors, compact=False)
        t2 = time.perf_counter()
        stages["synthesise_s"] += t1 - t0
        stages["write_segments_s"] += t2 - t1
        total += len(vectors)
        print(f"batch {batch + 1}/{args.batches}: {total} passages ({t1 - t0:.0f} s synthesis, {t2 - t1:.0f} s write)")
    t0 = time.perf_counter()
    compaction = compact_index(settings)
    stages["compact_s"] = time.perf_counter() - t0
    figures["build_stages_s"] = {k: round(v, 1) for k, v in stages.items()}
    figures["chunks"] = total
    figures["vector_index"] = compaction.vector_index
    figures["index_bytes"] = dir_bytes(index_dir)
    # Peak of this process so far: synthesis, segment writes and the full compaction (IVF training included).
    figures["build_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(
        f"compaction: {compaction.rows} rows into one segment, {compaction.vector_index}, {stages['compact_s']:.0f} s"
    )
    print(f"index on disk: {figures['index_bytes'] / 1e9:.2f} GB")

    figures.update(measure_server(index_dir, queries, originals))

    # Operator runs: add 1 article, add 100, remove 1 (stand-in embedder; embedding excluded by construction).
    serving = IndexSettings(index_dir=index_dir, model=StandInEmbedder.MODEL)
    daily = args.work / "daily"
    one = daily / "one"
    one.mkdir(parents=True)
    (one / "new-article.md").write_text(originals.fresh_article(0), "utf-8")
    figures["add_1_s"], figures["add_1_bytes_written"], _ = timed_run([one], serving, index_dir)
    hundred = daily / "hundred"
    hundred.mkdir()
    for i in range(100):
        (hundred / f"new-{i:03d}.md").write_text(originals.fresh_article(i + 1), "utf-8")
    figures["add_100_s"], figures["add_100_bytes_written"], _ = timed_run([hundred], serving, index_dir)
    (one / "new-article.md").unlink()
    figures["remove_1_s"], figures["remove_1_bytes_written"], report = timed_run([one], serving, index_dir)
    assert report.removed > 0, report  # type: ignore[attr-defined]
    figures["add_1_share_of_index"] = round(figures["add_1_bytes_written"] / figures["index_bytes"], 5)  # type: ignore[operator]
    figures["compaction_s"] = round(stages["compact_s"], 1)
    for key in ("add_1_s", "add_100_s", "remove_1_s"):
        figures[key] = round(figures[key], 2)  # type: ignore[call-overload]
    print(
        f"add 1 article: {figures['add_1_s']} s, {figures['add_1_bytes_written']} bytes written "
        f"({100 * figures['add_1_share_of_index']:.3f}% of the index); add 100: {figures['add_100_s']} s; "
        f"remove 1: {figures['remove_1_s']} s"
    )
    print(json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
