"""Collect, per question, what the current pipeline gives a span reader: hybrid passages (k=5, as /ask), the learned
answerer's own answer, and its ranked candidate sentences (text, article offsets, probability, rule-based span).

    .venv/bin/python bench/reader_candidates.py --dataset cmrc2018-trial --out /tmp/reader/trial.pkl

Writes a pickle of plain dicts so training and evaluation (bench/train_reader.py) need no index or encoder.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval.indexes import prepare_index
from eval.loaders import load_dataset
from eval.settings import EvalSettings
from indexer.embedding import load_embedder
from indexer.normalize import fold
from indexer.settings import IndexSettings
from server.settings import ServerSettings

TOP = 8  # candidates kept per question, best first


def collect(name: str) -> list[dict]:
    from server.resources import load_resources

    settings = EvalSettings()
    dataset = load_dataset(name, settings)
    configured = IndexSettings()
    embedder = load_embedder(configured)
    index_settings, _ = prepare_index(dataset, configured, settings, lambda: embedder)
    resources = load_resources(index_settings, ServerSettings(), embedder=embedder)
    answerer = resources.answerer
    out = []
    for n, question in enumerate(dataset.questions):
        asked = fold(question.question)
        passages = tuple(resources.retriever.search(asked, k=settings.answer_passages, mode="hybrid"))
        answer = answerer.answer(asked, passages)
        profile = answerer.profile(asked)
        covered = bool(passages) and answerer._covers_districts(profile, passages)
        ranked = answerer.scored(profile, passages) if covered else []
        out.append(
            {
                "id": question.id,
                "question": asked,
                "gold": question.answer,
                "answerable": question.answerable,
                "expected": profile.expected,
                "abstained": bool(answer.abstained),
                "confidence": answer.confidence,
                "answer_text": answer.text,
                "short": answer.short.text if answer.short is not None else None,
                "citations": [c.text for c in answer.citations],
                "candidates": [
                    {
                        "text": c.text,
                        "score": c.score,
                        "article_id": c.passage.article.article_id,
                        "start": c.start,
                        "span": c.span.text if c.span is not None else None,
                    }
                    for c in ranked[:TOP]
                ],
            }
        )
        if n % 200 == 0:
            print(f"{name}: {n}/{len(dataset.questions)}", file=sys.stderr, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.write_bytes(pickle.dumps(collect(args.dataset)))


if __name__ == "__main__":
    main()
