"""Does a Ray-sharded server rank like a single-node one? Top-10 of every corpus_gold and district-policies question,
local `Retriever.search` against the sharded search over the same index, and the fan-out latency overhead.

The index is built in --parts incremental runs (one segment each), so the shards really hold different segments.
Without --address a two-node cluster is started on 127.0.0.2/127.0.0.3 (policyqa_ray.local_cluster) and stopped.

    .venv/bin/python bench/ray_equivalence.py [--address HOST:PORT] [--shards 2,3] [--parts 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

MODES = ("hybrid", "fused", "bm25", "dense")


def build_parts(dataset: str, folder: Path, parts: int, embedder: object) -> tuple[Path, list[str]]:
    """An index of `parts` segments over the dataset's corpus, and its questions."""
    from eval.loaders import corpus_jsonl, load_dataset
    from eval.settings import EvalSettings
    from indexer.build import build_index
    from indexer.settings import IndexSettings

    data = load_dataset(dataset, EvalSettings())
    source = folder / "corpus"
    source.mkdir(parents=True)
    if data.corpus is None:
        files = sorted(p for p in IndexSettings().corpus_dir.iterdir() if p.is_file())
        groups = [files[i::parts] for i in range(parts)]
    else:
        docs = list(data.corpus)
        groups = [docs[i::parts] for i in range(parts)]
    settings = IndexSettings(index_dir=folder / "index")
    for number, group in enumerate(groups):
        if data.corpus is None:
            for file in group:
                shutil.copy(file, source / file.name)
        else:
            (source / f"part{number}.jsonl").write_bytes(corpus_jsonl(tuple(group)))
        build_index([source], settings, lambda: embedder)  # type: ignore[arg-type, return-value]
    return settings.index_dir, [q.question for q in data.questions]


def compare(local: object, sharded: object, questions: list[str], k: int = 10) -> dict[str, object]:
    from indexer.normalize import fold

    figures: dict[str, object] = {}
    for mode in MODES:
        same, overlaps, score_gap = 0, [], 0.0
        for question in questions:
            a = local.search(fold(question), k=k, mode=mode)  # type: ignore[attr-defined]
            b = sharded.search(fold(question), k=k, mode=mode)  # type: ignore[attr-defined]
            rows_a, rows_b = [p.row_id for p in a], [p.row_id for p in b]
            if rows_a == rows_b:
                same += 1
                score_gap = max([score_gap, *(abs(x.score - y.score) for x, y in zip(a, b, strict=True))])
            else:
                overlaps.append(len(set(rows_a) & set(rows_b)) / max(1, len(rows_a)))
        figures[mode] = {
            "questions": len(questions),
            "identical_top10": same,
            "identical_fraction": round(same / max(1, len(questions)), 4),
            "overlap_of_the_rest": [round(x, 2) for x in overlaps],
            "max_score_gap_when_identical": score_gap,
        }
    return figures


def latency(local: object, sharded: object, questions: list[str]) -> dict[str, object]:
    """Interleaved, per question: single-node search, then sharded search (both embed the query the same way).
    Two passes: in the first every query brings tokens the driver has not seen (one more round trip to count
    them), in the second their document frequencies are cached, as for a server's recurring vocabulary."""
    from indexer.normalize import fold

    figures: dict[str, object] = {}
    local.search(fold(questions[0]), k=10)  # type: ignore[attr-defined]  # warm-up (jieba, model)
    for label in ("first_pass", "second_pass"):
        times_local, times_sharded, gaps = [], [], []
        for question in questions:
            started = time.perf_counter()
            local.search(fold(question), k=10)  # type: ignore[attr-defined]
            middle = time.perf_counter()
            sharded.search(fold(question), k=10)  # type: ignore[attr-defined]
            done = time.perf_counter()
            times_local.append((middle - started) * 1000)
            times_sharded.append((done - middle) * 1000)
            gaps.append(times_sharded[-1] - times_local[-1])
        figures[label] = {
            "queries": len(gaps),
            "single_node_p50_ms": round(statistics.median(times_local), 2),
            "sharded_p50_ms": round(statistics.median(times_sharded), 2),
            "overhead_p50_ms": round(statistics.median(gaps), 2),
            "overhead_p95_ms": round(statistics.quantiles(gaps, n=20)[-1], 2),
        }
    return figures


def run(address: str, datasets: list[str], shard_counts: list[int], parts: int, work: Path) -> dict[str, object]:
    from indexer.embedding import load_embedder
    from indexer.settings import IndexSettings
    from policyqa_ray.serving import sharded_resources
    from policyqa_ray.settings import RaySettings
    from server.resources import load_resources
    from server.settings import ServerSettings

    embedder = load_embedder(IndexSettings())
    server_settings = ServerSettings(reload_interval_s=0)
    results: dict[str, object] = {}
    for dataset in datasets:
        index_dir, questions = build_parts(dataset, work / dataset, parts, embedder)
        settings = IndexSettings(index_dir=index_dir)
        local = load_resources(settings, server_settings, embedder)
        for shards in shard_counts:
            live = sharded_resources(settings, server_settings, RaySettings(address=address, shards=shards), embedder)
            try:
                sharded = live.current.retriever
                key = f"{dataset}/S={shards}"
                timed = latency(local.retriever, sharded, questions) if dataset == datasets[0] else None
                results[key] = {
                    "segments": len(local.index.segments),
                    "latency": timed,
                    "equivalence": compare(local.retriever, sharded, questions),
                }
            finally:
                live.group.stop()
        local.index.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", help="a running cluster (default: start a two-node one on loopback)")
    parser.add_argument("--datasets", default="corpus_gold,district-policies")
    parser.add_argument("--shards", default="2,3")
    parser.add_argument("--parts", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from policyqa_ray.local_cluster import LocalCluster

    with ExitStack() as stack:
        address = args.address
        if not address:
            address = stack.enter_context(LocalCluster()).address
        work = Path(tempfile.mkdtemp(prefix="pq-equiv-"))
        stack.callback(shutil.rmtree, work, True)
        results = run(address, args.datasets.split(","), [int(s) for s in args.shards.split(",")], args.parts, work)
    for key, found in results.items():
        print(f"{key} ({found['segments']} segments):")  # type: ignore[index]
        for mode, figures in found["equivalence"].items():  # type: ignore[index]
            print(
                f"  {mode:6s} identical top-10 {figures['identical_top10']}/{figures['questions']} "
                f"({figures['identical_fraction']:.1%}); rest overlap {figures['overlap_of_the_rest']}; "
                f"max score gap {figures['max_score_gap_when_identical']:.2e}"
            )
        if found["latency"]:  # type: ignore[index]
            print(f"  latency (hybrid, k=10): {found['latency']}")  # type: ignore[index]
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
