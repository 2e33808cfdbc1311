"""Sweep fusion settings on the tuning sets (CMRC 2018 trial, corpus_gold) — never on the held-out sets.

    .venv/bin/python bench/tune_retrieval.py [--datasets cmrc2018-trial corpus_gold]

Each question is embedded and scored once (`Retriever.candidates`); every configuration then re-ranks those
candidates with `Retriever.rank`, the same code the server runs, and is scored with the eval's hit rule.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys

from eval.indexes import prepare_index
from eval.loaders import load_dataset
from eval.metrics import matches_evidence
from eval.settings import EvalSettings
from indexer.embedding import load_embedder
from indexer.settings import IndexSettings
from server.resources import load_resources
from server.retrieval import RetrievalConfig
from server.settings import ServerSettings

HELD_OUT = {"cmrc2018-dev", "ncppolicies"}
# Sweep 1 (rrf_k 10/30/60 x dense 0.7/1.0 x sparse 1.0/1.3 x article 0/0.5/1, article rank max-pooled from
# passages) chose rrf_k 10, dense 1.0, sparse 1.3, article 0.5; sweep 2 found the district boost neutral on these
# sets. This one weighs the whole-article BM25 rank; run it once per POLICYQA_CHUNK_MAX_CHARS.
GRID = {
    "rrf_k": [10],
    "dense_weight": [1.0],
    "sparse_weight": [1.3],
    "article_weight": [0.0, 0.5, 1.0, 2.0],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["cmrc2018-trial", "corpus_gold"])
    args = parser.parse_args()
    if HELD_OUT & set(args.datasets):
        parser.error("held-out datasets are for reporting, not tuning")
    index_settings, eval_settings = IndexSettings(), EvalSettings()
    embedder = load_embedder(index_settings)
    configs = [RetrievalConfig(**dict(zip(GRID, values, strict=True))) for values in itertools.product(*GRID.values())]
    table: dict[RetrievalConfig, list[tuple[float, float]]] = {c: [] for c in configs}
    for name in args.datasets:
        dataset = load_dataset(name, eval_settings)
        settings, _ = prepare_index(dataset, index_settings, eval_settings, lambda: embedder)
        retriever = load_resources(settings, ServerSettings(), embedder=embedder).retriever
        questions = [q for q in dataset.questions if q.answerable]
        found = [retriever.candidates(q.question) for q in questions]
        for config in configs:
            tuned = dataclasses.replace(retriever, config=config)
            r5 = mrr = 0.0
            for question, candidates in zip(questions, found, strict=True):
                hits = [
                    matches_evidence(p.chunk.text, p.article.article_id, question.evidence)
                    for p in tuned.rank(candidates, k=10)
                ]
                r5 += any(hits[:5])
                mrr += next((1 / (i + 1) for i, hit in enumerate(hits) if hit), 0.0)
            table[config].append((r5 / len(questions), mrr / len(questions)))
        print(f"{name}: {len(questions)} questions", file=sys.stderr)
    header = " ".join(f"{n:>14}" for n in GRID) + "".join(f" {d[:14]:>14} R@5/MRR" for d in args.datasets)
    print(header + "   mean MRR")
    for config, scores in sorted(table.items(), key=lambda item: -sum(m for _, m in item[1])):
        cells = " ".join(f"{getattr(config, n):>14}" for n in GRID)
        figures = "".join(f"        {r5:.3f}/{mrr:.3f}" for r5, mrr in scores)
        print(f"{cells}{figures}   {sum(m for _, m in scores) / len(scores):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
