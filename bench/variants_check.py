"""Same-answer rate of the traditional-Chinese and zero-width variants of every corpus_gold question (issue 15):

    .venv/bin/python bench/variants_check.py [--index-dir DIR]

Builds the index of corpus/ in DIR on first use (about a minute), asks every question three ways in-process with the
real model, prints the rates and the questions whose variants were answered differently, then one JSON line."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GOLD = ROOT / "eval" / "datasets" / "corpus_gold.jsonl"


def main() -> int:
    from eval.variants import variant_agreement
    from indexer.build import build_index
    from indexer.embedding import load_embedder
    from indexer.settings import IndexSettings
    from server.resources import load_resources
    from server.settings import ServerSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=Path(tempfile.gettempdir()) / "policyqa-bench-server")
    args = parser.parse_args()
    settings = IndexSettings(index_dir=args.index_dir)
    embedder = load_embedder(settings)
    build_index([ROOT / "corpus"], settings, lambda: embedder)
    resources = load_resources(settings, ServerSettings(), embedder=embedder)
    questions = [json.loads(line)["question"] for line in GOLD.read_text(encoding="utf-8").splitlines() if line]
    result = variant_agreement(resources, questions)
    for name, rate in result["same_answer_rate"].items():
        print(f"{name:<12} same answer for {result['same_answer'][name]}/{result['questions']} ({rate:.1%})")
        for question in result["differing"][name]:
            print(f"    differs: {question}")
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
