"""Encoder comparison: speed of each encoder and how close its vectors are to the others', on real text.

    .venv/bin/python bench/encoder_agreement.py [--rounds 3] [--encoders torch-fp32,torch-bf16,...]

Passages are the seed corpus's chunks (as the indexer cuts them), queries corpus_gold's questions. For each
encoder: query p50 ms (one query at a time, one thread), passages/s (batches of 16, two threads), the minimum and
mean cosine to every other encoder over passages and queries, and top-1 / top-10 agreement of dense retrieval
with torch fp32. The encoders take turns round by round, so a neighbour's load falls on all alike. Prints a table,
the pairs as indexer/encoders/compat.py's MEASURED_MIN_COSINE, and a JSON last line.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ALL = "torch-fp32,torch-bf16,openvino-fp32,openvino-bf16,openvino-int8,onnx-fp32,onnx-int8"


def texts() -> tuple[list[str], list[str]]:
    from indexer.chunking import chunk_article
    from indexer.districts import Gazetteer
    from indexer.records import Article
    from indexer.settings import IndexSettings
    from indexer.sources import read_articles

    gazetteer, chunker = Gazetteer.load(), IndexSettings().chunker()
    articles = [a for a in read_articles([ROOT / "corpus"], gazetteer, root=ROOT / "corpus") if isinstance(a, Article)]
    passages = [c.embed_text or c.text for a in articles for c in chunk_article(a, chunker, gazetteer)]
    gold = (ROOT / "eval" / "datasets" / "corpus_gold.jsonl").read_text(encoding="utf-8").splitlines()
    return passages, [json.loads(line)["question"] for line in gold if line.strip()]


def load(encoder: str) -> Any:
    from indexer.embedding import load_embedder
    from indexer.settings import IndexSettings

    backend, precision = encoder.split("-")
    dtype = {"fp32": "float32", "bf16": "bfloat16", "int8": "int8"}[precision]
    settings = IndexSettings(encoder=backend, embed_dtype=dtype, torch_threads=2, query_threads=1, batch_size=16)
    embedder = load_embedder(settings)
    assert embedder.encoder == encoder, (embedder.encoder, encoder)
    return embedder


def torch_threads(n: int) -> None:
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", default=ALL)
    parser.add_argument("--rounds", type=int, default=3, help="query-latency rounds (encoders take turns)")
    args = parser.parse_args()
    names = args.encoders.split(",")
    passages, queries = texts()
    embedders = {name: load(name) for name in names}

    vectors: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    rate: dict[str, float] = {}
    for name, embedder in embedders.items():
        torch_threads(2)
        started = time.perf_counter()
        p = embedder.embed_passages(passages)
        rate[name] = len(passages) / (time.perf_counter() - started)
        torch_threads(1)
        vectors[name] = (p, np.concatenate([embedder.embed_queries([q]) for q in queries]))
    latencies: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.rounds):
        for name, embedder in embedders.items():
            for query in queries:
                started = time.perf_counter()
                embedder.embed_queries([query])
                latencies[name].append((time.perf_counter() - started) * 1000)

    pairs: dict[str, dict[str, float]] = {}
    for a, b in itertools.combinations(names, 2):
        cos = np.concatenate([(vectors[a][i] * vectors[b][i]).sum(axis=1) for i in (0, 1)])
        pairs[f"{a}|{b}"] = {"min": round(float(cos.min()), 5), "mean": round(float(cos.mean()), 5)}
    reference = "torch-fp32" if "torch-fp32" in vectors else names[0]
    ref_rank = np.argsort(-(vectors[reference][1] @ vectors[reference][0].T), axis=1)[:, :10]
    rows = []
    for name in names:
        rank = np.argsort(-(vectors[name][1] @ vectors[name][0].T), axis=1)[:, :10]
        top10 = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rank, ref_rank, strict=True)])
        key = f"{reference}|{name}" if f"{reference}|{name}" in pairs else f"{name}|{reference}"
        rows.append(
            {
                "encoder": name,
                "query_p50_ms": round(statistics.median(latencies[name]), 2),
                "passages_per_s": round(rate[name], 1),
                "min_cos_to_" + reference: pairs[key]["min"] if name != reference else 1.0,
                "top1_agreement": round(float(np.mean(rank[:, 0] == ref_rank[:, 0])), 3),
                "top10_agreement": round(float(top10), 3),
            }
        )
    print(f"{len(passages)} passages, {len(queries)} queries; query latency over {args.rounds} rounds, one thread")
    print(f"{'encoder':<15}{'query p50 ms':>14}{'passages/s':>12}{'min cos':>10}{'top-1':>8}{'top-10':>8}")
    for r in rows:
        print(
            f"{r['encoder']:<15}{r['query_p50_ms']:>14.2f}{r['passages_per_s']:>12.1f}"
            f"{r['min_cos_to_' + reference]:>10.5f}{r['top1_agreement']:>8.3f}{r['top10_agreement']:>8.3f}"
        )
    print("MEASURED_MIN_COSINE = {")
    for pair, figures in pairs.items():
        a, b = pair.split("|")
        print(f'    frozenset({{"{a}", "{b}"}}): {figures["min"]:.5f},')
    print("}")
    print(json.dumps({"passages": len(passages), "queries": len(queries), "encoders": rows, "pairs": pairs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
