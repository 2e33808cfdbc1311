"""The scale benchmark's server-side figures, measured in a fresh process as `policyqa serve` would load the index:
RSS after load, retrieval latency by mode (query encoding excluded), and ANN recall@10 against exact search.

    .venv/bin/python bench/scale_measure.py INDEX_DIR QUERIES.npz   (bench/bench_scale.py runs it)
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DISTRICTS = ("潼南区", "江津区", "万州区", "綦江区", "涪陵区", "石柱土家族自治县")


def rss_mb(field: str = "VmRSS") -> float:
    """VmRSS; RssAnon is private memory, RssFile the clean, shared pages of the memory-mapped index files (the
    OS shares them between server processes and can drop them under pressure)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


class PrecomputedQueries:
    """A STAND-IN embedder that hands back each query's precomputed real-model vector (encoding excluded)."""

    def __init__(self, model_id: str, dim: int, vectors: dict[str, np.ndarray]) -> None:
        self.model_id, self.dim, self.vectors = model_id, dim, vectors
        self.query_prompt, self.passage_prompt = "query: ", "passage: "

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts])

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError("the latency benchmark never embeds passages")


def percentiles(samples: list[float]) -> tuple[float, float]:
    return round(float(np.percentile(samples, 50)), 2), round(float(np.percentile(samples, 95)), 2)


def exact_top(view, vector: np.ndarray, k: int) -> set[int]:
    found: list[tuple[float, int]] = []
    for segment, live in zip(view.segments, view.live, strict=True):
        scores = np.asarray(segment.dense.vectors) @ vector
        if live is not None:
            scores = np.where(live, scores, -np.inf)
        top = np.argpartition(-scores, k - 1)[:k]
        found += [(float(scores[i]), segment.meta.base + int(i)) for i in top]
    return {row for _, row in sorted(found, reverse=True)[:k]}


def measure(index_dir: Path, queries_file: Path) -> dict[str, object]:
    from indexer.districts import Gazetteer, make_tokenizer
    from indexer.reader import IndexView
    from indexer.sparse import SparseTokenizer, load_stopwords
    from server.retrieval import Retriever

    stored = np.load(queries_file, allow_pickle=False)
    texts, vectors = list(stored["texts"]), stored["vectors"]
    base_rss = rss_mb()
    started = time.perf_counter()
    view = IndexView.open(index_dir)
    gazetteer = Gazetteer.load()
    tokenizer = SparseTokenizer(gazetteer.tokenizer or make_tokenizer(gazetteer), load_stopwords())
    embedder = PrecomputedQueries(view.manifest.model, view.manifest.dim, dict(zip(texts, vectors, strict=True)))
    retriever = Retriever.create(view, embedder, tokenizer, gazetteer)
    load_s = time.perf_counter() - started
    figures: dict[str, object] = {"rss_mb": round(rss_mb(), 1), "python_rss_mb": round(base_rss, 1)}
    figures["rss_anon_mb"] = round(rss_mb("RssAnon"), 1)
    figures["load_s"] = round(load_s, 2)
    for text in texts[:20]:  # warm-up: page in the postings and lists that queries touch first
        retriever.search(text, k=10)
    for label, mode, district in (
        ("bm25", "bm25", False),
        ("dense", "dense", False),
        ("hybrid", "hybrid", False),
        ("filtered", "hybrid", True),
    ):
        samples = []
        for i, text in enumerate(texts):
            filter_ = DISTRICTS[i % len(DISTRICTS)] if district else None
            t0 = time.perf_counter()
            retriever.search(text, k=10, mode=mode, district=filter_)
            samples.append((time.perf_counter() - t0) * 1000)
        figures[f"{label}_p50_ms"], figures[f"{label}_p95_ms"] = percentiles(samples)
    # Before the recall check below, whose exact search reads every vector once (and so pages them all in).
    figures["rss_after_queries_mb"] = round(rss_mb(), 1)
    figures["rss_anon_after_queries_mb"] = round(rss_mb("RssAnon"), 1)
    figures["rss_file_after_queries_mb"] = round(rss_mb("RssFile"), 1)
    recalls = []
    for vector in vectors:
        approximate = set(view.dense(vector, 10))
        recalls.append(len(approximate & exact_top(view, vector, 10)) / 10)
    figures["ann_recall_at_10"] = round(float(np.mean(recalls)), 4)
    if any(s.dense.ann is not None for s in view.segments):
        figures["nprobe_sweep"] = nprobe_sweep(view, vectors[:100])
    return figures


def nprobe_sweep(view, vectors: np.ndarray) -> list[dict[str, float]]:
    """Recall@10 against exact and dense search time (top 100 candidates) for several nprobe values."""
    exact = [exact_top(view, v, 10) for v in vectors]
    rows = []
    for nprobe in (16, 32, 64, 128, 256):
        view.nprobe = nprobe
        times, recalls = [], []
        for vector, truth in zip(vectors, exact, strict=True):
            t0 = time.perf_counter()
            found = view.dense(vector, 100)
            times.append((time.perf_counter() - t0) * 1000)
            recalls.append(len(truth & set(list(found)[:10])) / 10)
        rows.append({"nprobe": nprobe, "recall_at_10": round(float(np.mean(recalls)), 4),
                     "dense_p50_ms": round(float(np.median(times)), 2)})  # fmt: skip
    return rows


def real_vector_recall(originals, queries, nprobe: int) -> dict[str, object]:
    """ANN recall@10 on the real-model vectors of every original passage, with the index auto would choose if
    the threshold let it (IVF with about 4 * sqrt(n) lists)."""
    import tempfile

    from indexer.vector_index import DenseSegment, VectorIndexSettings, build_ann

    vectors = np.concatenate([o.vectors for o in originals.articles]).astype(np.float32)
    settings = VectorIndexSettings(ann_threshold=1, nprobe=nprobe)
    factory = settings.factory(len(vectors))
    with tempfile.TemporaryDirectory() as tmp:
        build_ann(vectors, factory, settings, Path(tmp))
        segment = DenseSegment.open(Path(tmp), vectors)
        recalls = []
        for _, query in queries:
            rows, _ = segment.search(query, 10, None, nprobe)
            exact = set(np.argsort(-(vectors @ query))[:10].tolist())
            recalls.append(len(exact & set(rows.tolist())) / 10)
    return {"real_vectors": len(vectors), "real_factory": factory, "real_ann_recall_at_10": round(np.mean(recalls), 4)}


def measure_server(index_dir: Path, queries, originals) -> dict[str, object]:
    queries_file = index_dir.parent / "queries.npz"
    np.savez(queries_file, texts=np.asarray([t for t, _ in queries]), vectors=np.stack([v for _, v in queries]))
    command = [sys.executable, str(Path(__file__)), str(index_dir), str(queries_file)]
    out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    print(
        f"server: RSS {figures['rss_mb']} MB after load; p50/p95 ms: bm25 {figures['bm25_p50_ms']}/"
        f"{figures['bm25_p95_ms']}, dense {figures['dense_p50_ms']}/{figures['dense_p95_ms']}, hybrid "
        f"{figures['hybrid_p50_ms']}/{figures['hybrid_p95_ms']}, hybrid+district {figures['filtered_p50_ms']}/"
        f"{figures['filtered_p95_ms']}; ANN recall@10 {figures['ann_recall_at_10']}"
    )
    from indexer.reader import load_index

    with load_index(index_dir) as view:
        nprobe = view.nprobe
    figures.update(real_vector_recall(originals, queries, nprobe))
    print(f"real-model vectors: {figures['real_vectors']}, {figures['real_factory']}, recall@10 "
          f"{figures['real_ann_recall_at_10']}")  # fmt: skip
    return figures


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    print(json.dumps(measure(Path(sys.argv[1]), Path(sys.argv[2]))))
