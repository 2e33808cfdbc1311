"""Sweep fusion settings on the tuning sets (CMRC 2018 trial, corpus_gold, district-policies) — never on the
held-out sets.

    .venv/bin/python bench/tune_retrieval.py [--datasets cmrc2018-trial corpus_gold district-policies]

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
TUNING = ["cmrc2018-trial", "corpus_gold", "district-policies"]
# Session 1, RRF (rrf_k 10/30/60 x dense 0.7/1.0 x sparse 1.0/1.3 x article 0/0.5/1): rrf_k 10, dense 1.0, sparse 1.3,
# article 0.5; the district boost was neutral on these sets. Session 2, convex fusion of min-max normalised scores
# with both scores known for every candidate: mean MRR@10 0.962 at sparse 0.6-0.85 (chosen 0.7, article 0.5, a tie
# with 0.25) against 0.944 for the best RRF, and the only setting that beats BM25 alone on corpus_gold R@1 and MRR.
# Also measured and not adopted: 200 candidates (+0.001), 500-character chunks (0.962, but BM25 alone then beats it
# on corpus_gold R@1), character bigrams added to the BM25 tokens (within 0.001 either way).
# Session 3 added district-policies (60 similar long documents, 180 questions). Before: hybrid 0.817/0.989/0.889
# R@1/R@5/MRR there, BM25 alone 0.794/0.983/0.872, dense alone 0.672/0.933/0.787; raising the article weight to 1-3
# did not help (0.887-0.889). What did: counting the article title several times in each passage's BM25 text, a
# field weight (indexer.sparse.SparseSettings; hybrid at 0.7/0.5, MRR trial/gold/district-policies): title x1
# 0.962/0.962/0.889, x2 0.962/0.962/0.898, x4 0.962/0.956/0.912; x3 with k1 0.9 instead of 1.2 0.964/0.959/0.910
# (b 0.5 instead of 0.75, title x1: mean +0.001). With title x3 and k1 0.9, this grid's best mean is BM25 1.3,
# article 0.25: 0.938/0.993/0.964, 0.932/0.993/0.958, 0.861/0.994/0.917 (mean 0.9461; 0.7/0.5 scores 0.9445).
# district-policies then doubled (dp7-dp12: the same families for 60 other districts, half the questions naming
# none): there the chosen setting scores 0.850/0.989/0.908 and stays within 0.0002 of the grid's best mean.
# Not adopted: a cap of 2 or 3 passages per article (R@5 0.989 -> 0.961-0.967 on district-policies: the second and
# third passages of the right document are often the hits); BM25 over the passage alone, without title and heading
# (district-policies MRR 0.889 -> 0.849); keeping the title line a document opens with out of chunk text (hybrid
# MRR +0.005, one question, while dense alone fell 0.787 -> 0.743 and opening chunks took the top rank more often);
# on the doubled set, each article's title embedded as a third article signal (mean MRR +0.0005) and each passage's
# best sentence by BM25 as a third passage signal (weight 0.3: -0.002).
# Each grid is a product; the sweep runs their union.
GRIDS: list[dict[str, list]] = [
    {
        "fusion": ["convex"],
        "sparse_weight": [0.5, 0.7, 1.0, 1.3],
        "article_weight": [0.0, 0.25, 0.5, 1.0],
    },
]
# The single retrievers, scored alongside so a sweep shows whether fusion beats both.
BASELINES = ("bm25", "dense")
LABEL = ("fusion", "sparse_weight", "article_weight")


def configs() -> list[RetrievalConfig]:
    found = []
    for grid in GRIDS:
        for values in itertools.product(*grid.values()):
            found.append(RetrievalConfig(**dict(zip(grid, values, strict=True))))
    return found


def score(retriever, questions, found, mode) -> tuple[float, float, float]:
    r1 = r5 = mrr = 0.0
    for question, candidates in zip(questions, found, strict=True):
        hits = [
            matches_evidence(p.chunk.text, p.article.article_id, question.evidence)
            for p in retriever.rank(candidates, k=10, mode=mode)
        ]
        r1 += hits[0] if hits else 0
        r5 += any(hits[:5])
        mrr += next((1 / (i + 1) for i, hit in enumerate(hits) if hit), 0.0)
    n = len(questions)
    return r1 / n, r5 / n, mrr / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=TUNING)
    args = parser.parse_args()
    if HELD_OUT & set(args.datasets):
        parser.error("held-out datasets are for reporting, not tuning")
    index_settings, eval_settings = IndexSettings(), EvalSettings()
    embedder = load_embedder(index_settings)
    rows: dict[str, list[tuple[float, float, float]]] = {}
    for name in args.datasets:
        dataset = load_dataset(name, eval_settings)
        settings, _ = prepare_index(dataset, index_settings, eval_settings, lambda: embedder)
        retriever = load_resources(settings, ServerSettings(), embedder=embedder).retriever
        questions = [q for q in dataset.questions if q.answerable]
        found = [retriever.candidates(q.question) for q in questions]
        for mode in BASELINES:
            rows.setdefault(mode, []).append(score(retriever, questions, found, mode))
        for config in configs():
            label = " ".join(f"{n}={getattr(config, n)}" for n in LABEL)
            tuned = dataclasses.replace(retriever, config=config)
            rows.setdefault(label, []).append(score(tuned, questions, found, "hybrid"))
        print(f"{name}: {len(questions)} questions", file=sys.stderr)
    print(f"{'config':<70}" + "".join(f" {d[:14]:>14} R@1/R@5/MRR" for d in args.datasets) + "   mean MRR")
    for label, scores in sorted(rows.items(), key=lambda item: -sum(m for *_, m in item[1])):
        figures = "".join(f"    {r1:.3f}/{r5:.3f}/{mrr:.3f}" for r1, r5, mrr in scores)
        print(f"{label:<70}{figures}   {sum(m for *_, m in scores) / len(scores):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
