"""In-process query latency per encoder: search and ask on the seed corpus, wall time and CPU time per query.

    .venv/bin/python bench/bench_query.py [--encoders torch,openvino,openvino-bf16,onnx] [--rounds 3]

CPU time (the whole process's, one thread per query) is what a query costs on an idle core, so it stays
comparable when the shared machine is busy and wall times are not; the encoders take turns round by round.
Prints a table and a JSON last line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def resources(encoder: str, work: Path) -> Any:
    from indexer.settings import IndexSettings
    from server.resources import load_resources
    from server.settings import ServerSettings
    from server.workers import pin_search_threads

    # "openvino" (its default precision) or "openvino-bf16": backend and POLICYQA_EMBED_DTYPE.
    backend, _, precision = encoder.partition("-")
    dtype = {"": "auto", "fp32": "float32", "bf16": "bfloat16", "int8": "int8"}[precision]
    index_dir = work / encoder
    env = {**os.environ, "POLICYQA_ENCODER": backend, "POLICYQA_EMBED_DTYPE": dtype}
    command = [sys.executable, "-m", "policyqa.cli", "index", str(ROOT / "corpus"), "--index-dir", str(index_dir)]
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    pin_search_threads()
    settings = IndexSettings(index_dir=index_dir, encoder=backend, embed_dtype=dtype, query_threads=1)
    loaded = load_resources(settings, ServerSettings())
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
    return loaded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", default="torch,openvino,openvino-bf16,onnx")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "policyqa-bench-query")
    args = parser.parse_args()
    gold = (ROOT / "eval" / "datasets" / "corpus_gold.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in gold if line.strip()]
    loaded = {name: resources(name, args.work) for name in args.encoders.split(",")}
    figures: dict[str, dict[str, list[float]]] = {
        name: {key: [] for key in ("embed", "search", "ask", "search_cpu", "ask_cpu")} for name in loaded
    }
    for _ in range(args.rounds):
        for name, res in loaded.items():
            res.retriever.search(questions[0])
            for question in questions:
                wall, cpu = time.perf_counter(), time.process_time()
                res.embedder.embed_queries([question])
                figures[name]["embed"].append(time.perf_counter() - wall)
                wall, cpu = time.perf_counter(), time.process_time()
                res.retriever.search(question, k=10)
                figures[name]["search"].append(time.perf_counter() - wall)
                figures[name]["search_cpu"].append(time.process_time() - cpu)
                wall, cpu = time.perf_counter(), time.process_time()
                res.answerer.answer(question, res.retriever.search(question, k=5))
                figures[name]["ask"].append(time.perf_counter() - wall)
                figures[name]["ask_cpu"].append(time.process_time() - cpu)
    rows = []
    for name, res in loaded.items():
        p50 = {key: round(statistics.median(values) * 1000, 2) for key, values in figures[name].items()}
        rows.append({"encoder": getattr(res.embedder, "encoder", name), **{f"{k}_p50_ms": v for k, v in p50.items()}})
    print(f"{len(questions)} questions x {args.rounds} rounds, one thread; p50 ms (wall unless marked cpu)")
    print(f"{'encoder':<15}{'embed':>8}{'search':>8}{'ask':>8}{'search cpu':>12}{'ask cpu':>10}")
    for r in rows:
        print(
            f"{r['encoder']:<15}{r['embed_p50_ms']:>8.2f}{r['search_p50_ms']:>8.2f}{r['ask_p50_ms']:>8.2f}"
            f"{r['search_cpu_p50_ms']:>12.2f}{r['ask_cpu_p50_ms']:>10.2f}"
        )
    print(json.dumps({"questions": len(questions), "rounds": args.rounds, "results": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
