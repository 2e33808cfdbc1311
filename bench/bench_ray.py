"""The Ray engine on this machine: indexing passages/s, local against Ray with 1 and 2 embedding actors; fan-out
latency of a 2-shard search over single-node search; and the projected wall time for 1M and 10M passages on N
workers from the measured per-actor throughput, with the arithmetic shown. Prints the figures, then one JSON line.

    .venv/bin/python bench/bench_ray.py [--docs N] [--address HOST:PORT] [--json]

Without --address a two-node cluster is started on 127.0.0.2 / 127.0.0.3 and stopped at the end. On this 2-core
machine the point is the overhead (and correctness: see bench/ray_equivalence.py), not a speed-up.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))


def _corpus(folder: Path, docs: int | None) -> Path:
    from eval.loaders import corpus_jsonl, load_dataset
    from eval.settings import EvalSettings

    data = load_dataset("district-policies", EvalSettings())
    assert data.corpus is not None
    path = folder / "corpus.jsonl"
    path.write_bytes(corpus_jsonl(data.corpus[:docs]))
    return path


def index_local(corpus: Path, index_dir: Path) -> dict[str, Any]:
    from indexer.build import build_index
    from indexer.embedding import load_embedder
    from indexer.settings import IndexSettings

    settings = IndexSettings(index_dir=index_dir, torch_threads=2)
    report = build_index([corpus], settings, lambda: load_embedder(settings))
    return {"passages": report.embedded, "seconds": round(report.seconds, 2)}


def index_ray(corpus: Path, index_dir: Path, address: str, actors: int) -> dict[str, Any]:
    from indexer.build import build_index
    from indexer.settings import IndexSettings
    from policyqa_ray.embed import ClusterEmbedding
    from policyqa_ray.settings import RaySettings

    # The machine's 2 cores either way: one actor with 2 threads, or 2 actors with one each.
    threads = max(1, 2 // actors)
    ray_settings = RaySettings(address=address, actors=actors, actor_threads=threads, actor_cpus=threads)
    embedding = ClusterEmbedding(IndexSettings(index_dir=index_dir), ray_settings)
    phases: dict[str, float] = {}

    def identity() -> Any:
        started = time.perf_counter()
        found = embedding.load_identity()
        phases["identity"] = time.perf_counter() - started
        return found

    def embed(texts: dict[str, str], embedder: Any, progress: Any) -> dict[str, Any]:
        started = time.perf_counter()
        found = embedding(texts, embedder, progress)
        phases["pipeline"] = time.perf_counter() - started
        return found

    report = build_index([corpus], IndexSettings(index_dir=index_dir), identity, embed=embed)
    return {
        "passages": report.embedded,
        "seconds": round(report.seconds, 2),
        "identity_s": round(phases["identity"], 2),
        "pipeline_s": round(phases["pipeline"], 2),
        "driver_s": round(report.seconds - phases["identity"] - phases["pipeline"], 2),
    }


def projection(per_actor: float, driver_s_per_passage: float) -> dict[str, Any]:
    """T(P, N) = P / (N * r) + P * c: the actors embed in parallel, the driver writes the segment alone."""
    rows = {}
    for passages in (1_000_000, 10_000_000):
        for workers in (1, 8, 32, 128):
            embed_s = passages / (workers * per_actor)
            driver_s = passages * driver_s_per_passage
            rows[f"{passages}@{workers}"] = round((embed_s + driver_s) / 3600, 2)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=None, help="district-policies documents (default: all 120)")
    parser.add_argument("--address", help="a running cluster (default: start a two-node one on loopback)")
    parser.add_argument("--json", action="store_true", help="only the JSON line")
    parser.add_argument("--fanout-only", action="store_true", help="only the fan-out latency")
    args = parser.parse_args()
    from ray_equivalence import build_parts, latency

    from policyqa_ray.cluster import connect
    from policyqa_ray.local_cluster import LocalCluster

    with ExitStack() as stack:
        address = args.address or stack.enter_context(LocalCluster()).address
        connect(address, "policyqa-bench")
        work = Path(tempfile.mkdtemp(prefix="pq-bench-ray-"))
        stack.callback(shutil.rmtree, work, True)
        if args.fanout_only:
            fanout = _fanout(work, build_parts, latency)
            print(json.dumps({"fanout": fanout}))
            return
        corpus = _corpus(work, args.docs)
        local = index_local(corpus, work / "local")
        ray1 = index_ray(corpus, work / "ray1", "auto", 1)
        ray2 = index_ray(corpus, work / "ray2", "auto", 2)
        fanout = _fanout(work, build_parts, latency)
    rate = {name: r["passages"] / r["seconds"] for name, r in (("local", local), ("ray1", ray1), ("ray2", ray2))}
    per_actor = ray2["passages"] / ray2["pipeline_s"] / 2
    driver_cost = ray2["driver_s"] / ray2["passages"]
    projected = projection(per_actor, driver_cost)
    result = {
        "local": local,
        "ray_1_actor": ray1,
        "ray_2_actors": ray2,
        "passages_per_s": {k: round(v, 2) for k, v in rate.items()},
        "ray2_over_local": round(rate["ray2"] / rate["local"], 3),
        "ray1_over_local": round(rate["ray1"] / rate["local"], 3),
        "per_actor_passages_per_s": round(per_actor, 2),
        "driver_s_per_passage": round(driver_cost, 5),
        "fanout": fanout,
        "projected_hours": projected,
    }
    if not args.json:
        _print(result)
    print(json.dumps(result, ensure_ascii=False))


def _fanout(work: Path, build_parts: Any, latency: Any) -> dict[str, Any]:
    from indexer.embedding import load_embedder
    from indexer.settings import IndexSettings
    from policyqa_ray.serving import sharded_resources
    from policyqa_ray.settings import RaySettings
    from server.resources import load_resources
    from server.settings import ServerSettings

    embedder = load_embedder(IndexSettings())
    index_dir, questions = build_parts("corpus_gold", work / "fanout", 3, embedder)
    settings, server = IndexSettings(index_dir=index_dir), ServerSettings(reload_interval_s=0)
    local = load_resources(settings, server, embedder)
    live = sharded_resources(settings, server, RaySettings(address="auto", shards=2, shard_cpus=0.5), embedder)
    try:
        return latency(local.retriever, live.current.retriever, questions)
    finally:
        live.group.stop()
        local.index.close()


def _print(r: dict[str, Any]) -> None:
    print("indexing (district-policies, end to end: model load, chunking, embedding, segment write, publish)")
    print("| run | passages | seconds | passages/s | vs local |")
    print("|---|---:|---:|---:|---:|")
    for name, key in (("local, 2 threads", "local"), ("Ray, 1 actor x 2 threads", "ray_1_actor"),
                      ("Ray, 2 actors x 1 thread", "ray_2_actors")):  # fmt: skip
        run = r[key]
        rate = run["passages"] / run["seconds"]
        ratio = rate / r["passages_per_s"]["local"]
        print(f"| {name} | {run['passages']} | {run['seconds']} | {rate:.2f} | {ratio:.2f}x |")
    ray2 = r["ray_2_actors"]
    print(
        f"Ray 2 actors: identity {ray2['identity_s']} s, pipeline {ray2['pipeline_s']} s, driver {ray2['driver_s']} s"
    )
    for label, f in r["fanout"].items():
        print(
            f"fan-out, 2 shards, corpus_gold, {label}: single node p50 {f['single_node_p50_ms']} ms, sharded p50 "
            f"{f['sharded_p50_ms']} ms, overhead p50 {f['overhead_p50_ms']} ms (p95 {f['overhead_p95_ms']} ms)"
        )
    r_act, c = r["per_actor_passages_per_s"], r["driver_s_per_passage"]
    print(f"projection: T(P, N) = P / (N x r) + P x c, r = {r_act} passages/s per actor (measured: 2 actors, one")
    print(f"CPU thread each), c = {c} s per passage on the driver (segment write and publish, measured)")
    for key, hours in r["projected_hours"].items():
        passages, workers = key.split("@")
        print(f"  {int(passages):>10,} passages on {workers:>3} workers: {int(passages):,} / ({workers} x {r_act}) "
              f"+ {int(passages):,} x {c} = {hours} h")  # fmt: skip


if __name__ == "__main__":
    main()
