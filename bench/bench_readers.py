"""Indexing time of this checkout against a baseline revision, on the same corpus, in one run (issue 13: the new
readers, dates and reprint detection must not make indexing ncppolicies slower than before, within 10%).

    .venv/bin/python bench/bench_readers.py --baseline 09c0610 [--corpus ../shared/benchmarks/ncppolicies]
        [--rounds 3] [--embedder fake|real]

The baseline is checked out into a temporary git worktree and run with this venv; the two take turns, `rounds`
times each, every build into a fresh index, so a busy machine slows both alike. `fake` (default) times everything
but the model (reading, cleaning, dates, chunking, BM25, reprints, writing), where the two versions differ; `real`
adds the embedding model, identical in both and most of the time. The ratio is taken on the process's CPU time
(user + system), which other developers' work on the shared cores disturbs far less than wall time (the same
tokenisation took 2.5 to 5.9 s wall in consecutive runs). Prints figures and a JSON last line; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run inside the checkout being measured (its own `indexer` package comes first on sys.path).
_BUILD = """
import json, sys, time
from pathlib import Path
from indexer.build import build_index
from indexer.settings import IndexSettings
corpus, index_dir, kind = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
settings = IndexSettings(index_dir=index_dir, model="fake/bigram-hash" if kind == "fake" else IndexSettings().model)
if kind == "fake":
    from tests.fakes import FakeEmbedder
    make = FakeEmbedder
else:
    from indexer.embedding import load_embedder
    embedder = load_embedder(settings)
    make = lambda: embedder
started, cpu = time.perf_counter(), time.process_time()
report = build_index([corpus], settings, make)
print(json.dumps({"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu,
                  "articles": report.articles, "chunks": report.chunks}))
"""


def build_once(tree: Path, corpus: Path, index_dir: Path, kind: str) -> dict:
    shutil.rmtree(index_dir, ignore_errors=True)
    out = subprocess.run(
        [sys.executable, "-c", _BUILD, str(corpus), str(index_dir), kind],
        cwd=tree,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", required=True, help="git revision to compare against (e.g. main)")
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "benchmarks" / "ncppolicies")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--embedder", choices=("fake", "real"), default="fake")
    args = parser.parse_args()
    corpus = args.corpus / "corpus.jsonl" if args.corpus.is_dir() else args.corpus
    work = Path(tempfile.mkdtemp(prefix="policyqa-bench-readers-"))
    baseline = work / "baseline"
    subprocess.run(["git", "worktree", "add", "--detach", str(baseline), args.baseline], cwd=ROOT, check=True)
    try:
        times: dict[str, list[float]] = {"baseline": [], "current": []}
        walls: dict[str, list[float]] = {"baseline": [], "current": []}
        sizes = {}
        for round_ in range(args.rounds):
            for name, tree in (("baseline", baseline), ("current", ROOT)):
                result = build_once(tree, corpus, work / f"index-{name}", args.embedder)
                times[name].append(result["cpu"])
                walls[name].append(result["seconds"])
                sizes[name] = (result["articles"], result["chunks"])
                print(f"round {round_ + 1} {name:8s} cpu {result['cpu']:7.2f} s, wall {result['seconds']:7.2f} s  "
                      f"{result['articles']} articles, {result['chunks']} chunks")  # fmt: skip
        old, new = statistics.median(times["baseline"]), statistics.median(times["current"])
        wall = statistics.median(walls["current"]) / statistics.median(walls["baseline"])
        print(f"median CPU: baseline {old:.2f} s, current {new:.2f} s, ratio current/baseline {new / old:.3f} "
              f"(wall time ratio {wall:.3f})")  # fmt: skip
        print(json.dumps({
            "corpus": str(corpus), "baseline": args.baseline, "embedder": args.embedder, "rounds": args.rounds,
            "baseline_cpu_s": times["baseline"], "current_cpu_s": times["current"], "median_ratio": round(new / old, 4),
            "baseline_wall_s": walls["baseline"], "current_wall_s": walls["current"], "wall_ratio": round(wall, 4),
            "articles_chunks": sizes,
        }))  # fmt: skip
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], cwd=ROOT, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
