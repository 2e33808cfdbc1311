"""Answer quality on a gold set: retrieval (k=5) + answer for every question, the four target figures, the failures.

    .venv/bin/python bench/answer_check.py --index-dir /tmp/ans-index [--dataset eval/datasets/corpus_gold.jsonl]

Targets (issue 4): gold answer in the answer for >= 85% of answerable questions, >= 90% of unanswerable ones
abstain, <= 5% of answerable ones abstain, 100% of citations verbatim. Also prints the answer stage's latency: what
/ask adds over /search (issue 12: <= 5 ms p50 on the seed corpus), one thread, in process, each question's search
and answer timed separately; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Outcome:
    gold: dict[str, Any]
    answer: Any  # server.answering.Answer
    answer_ms: float
    search_ms: float = 0.0

    @property
    def answerable(self) -> bool:
        return self.gold["answer"] is not None

    @property
    def correct(self) -> bool:
        text = self.answer.text or ""
        return "".join(self.gold["answer"].split()) in "".join(text.split())

    @property
    def verbatim(self) -> bool:
        return all(c.article.text[c.start : c.end] == c.text for c in self.answer.citations)


def load_gold(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run(resources: Any, gold: Sequence[dict[str, Any]], k: int = 5) -> list[Outcome]:
    outcomes = []
    for row in gold:
        started = time.perf_counter()
        passages = resources.retriever.search(row["question"], k=k)
        searched = time.perf_counter()
        answer = resources.answerer.answer(row["question"], passages)
        done = time.perf_counter()
        outcomes.append(Outcome(row, answer, (done - searched) * 1000, (searched - started) * 1000))
    return outcomes


def figures(outcomes: Sequence[Outcome]) -> dict[str, float]:
    answerable = [o for o in outcomes if o.answerable]
    unanswerable = [o for o in outcomes if not o.answerable]
    citations = sum(len(o.answer.citations) for o in outcomes)
    return {
        "answer_contains_gold": sum(o.correct for o in answerable) / max(1, len(answerable)),
        "unanswerable_abstained": sum(o.answer.abstained for o in unanswerable) / max(1, len(unanswerable)),
        "answerable_abstained": sum(o.answer.abstained for o in answerable) / max(1, len(answerable)),
        "citations_verbatim": sum(o.verbatim for o in outcomes) / max(1, len(outcomes)),
        "citations": citations,
        "answer_ms_p50": statistics.median(o.answer_ms for o in outcomes),
        "answer_ms_p95": statistics.quantiles([o.answer_ms for o in outcomes], n=20)[-1],
        "answer_ms_max": max(o.answer_ms for o in outcomes),
        "search_ms_p50": statistics.median(o.search_ms for o in outcomes),
    }


def print_report(outcomes: Sequence[Outcome], show_failures: bool = True) -> None:
    if show_failures:
        for o in outcomes:
            if o.answerable and o.correct and o.verbatim:
                continue
            if not o.answerable and o.answer.abstained:
                continue
            print(f"- {o.gold['id']} [{o.gold['type']}] {o.gold['question']}  gold={o.gold['answer']!r}")
            print(f"    got: {'(abstained)' if o.answer.abstained else o.answer.text}")
        print()
    answerable = sum(o.answerable for o in outcomes)
    print(f"{len(outcomes)} questions ({answerable} answerable, {len(outcomes) - answerable} unanswerable)")
    f = figures(outcomes)
    print(f"gold answer in answer (answerable):   {f['answer_contains_gold']:.1%}   target >= 85%")
    print(f"abstained (unanswerable):             {f['unanswerable_abstained']:.1%}   target >= 90%")
    print(f"abstained (answerable):               {f['answerable_abstained']:.1%}   target <= 5%")
    print(f"citations verbatim:                   {f['citations_verbatim']:.1%}   target 100% ({f['citations']} cited)")
    print(
        f"answer stage latency (what /ask adds over /search): p50 {f['answer_ms_p50']:.2f} ms   target <= 5 ms, "
        f"p95 {f['answer_ms_p95']:.2f} ms, max {f['answer_ms_max']:.2f} ms; search p50 {f['search_ms_p50']:.2f} ms"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, default=ROOT / "eval/datasets/corpus_gold.jsonl")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--quiet", action="store_true", help="figures only, no failure list")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from indexer.settings import IndexSettings
    from server.resources import load_resources
    from server.settings import ServerSettings

    resources = load_resources(IndexSettings(index_dir=args.index_dir), ServerSettings(llm_base_url=None))
    gold = load_gold(args.dataset)
    run(resources, gold[:10], k=args.k)  # warm-up: tokenizer dictionaries, first-call costs
    outcomes = run(resources, gold, k=args.k)
    print_report(outcomes, show_failures=not args.quiet)
    print(json.dumps({k: round(v, 4) for k, v in figures(outcomes).items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
