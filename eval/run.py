"""Run a question set through the server's own retrieval and answering, and score every question.

Each retriever mode is one `Retriever.search` call per question (the path /search and /ask take); answers come
from `Answerer.answer` over the top passages, as /ask does.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eval.metrics import AnswerOutcome, QuestionResult, matches_evidence, recall_curve, slices, summarize
from eval.questions import DatasetError, EvalQuestion
from indexer.normalize import fold
from indexer.reader import IndexView

if TYPE_CHECKING:
    from indexer.records import Article
    from server.retrieval import Retriever

ALL_MODES = ("bm25", "dense", "fused", "hybrid")


@dataclass(frozen=True)
class Judgements:
    """Per question, what the index holds that counts as relevant: articles with evidence, hit passages."""

    articles: frozenset[str]
    relevant_passages: int


@dataclass(frozen=True)
class ModeRun:
    mode: str
    results: tuple[QuestionResult, ...]


def _candidate_articles(question: EvalQuestion, articles: Mapping[str, Article]) -> list[str]:
    # Evidence keyed by article can only be in that article; scanning all of them would be wasted on benchmarks.
    if None in question.evidence:
        return list(articles)
    return [a for a in question.evidence if a in articles]


def judge(questions: Sequence[EvalQuestion], index: IndexView) -> dict[str, Judgements]:
    """Apply the hit rule to the whole index once, the way relevance judgements (qrels) would be built."""
    # Evals read every text once; the server never does (it reads only the passages it returns).
    texts = {a.article_id: a for a in index.iter_articles()}
    chunks = dict(index.iter_chunks())
    unknown = sorted({a for q in questions for a in q.evidence if a is not None and a not in texts})
    if unknown:
        shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise DatasetError(f"evidence names {len(unknown)} article(s) the index does not hold: {shown}")
    rows_by_article: dict[str, list[int]] = {}
    for row, chunk in chunks.items():
        rows_by_article.setdefault(chunk.article_id, []).append(row)
    judgements = {}
    for question in questions:
        if not question.answerable:
            judgements[question.id] = Judgements(frozenset(), 0)
            continue
        articles = frozenset(
            a for a in _candidate_articles(question, texts) if matches_evidence(texts[a].text, a, question.evidence)
        )
        # Copies of one text (a reprint group, indexer.reprints) count once: results show each text once.
        relevant = len(
            {
                chunks[row].reprint_of or chunks[row].chunk_id
                for a in articles
                for row in rows_by_article.get(a, ())
                if matches_evidence(chunks[row].text, a, question.evidence)
            }
        )
        judgements[question.id] = Judgements(articles, relevant)
    return judgements


def unfindable(questions: Sequence[EvalQuestion], judgements: Mapping[str, Judgements]) -> list[str]:
    """Answerable questions whose evidence no indexed passage holds (a typo, or text the chunker leaves out, such as
    a heading): no retriever can score on them, and the report says so instead of blaming retrieval."""
    return [q.id for q in questions if q.answerable and not judgements[q.id].relevant_passages]


def _ask(retriever: Retriever, answerer: Any, question: EvalQuestion, mode: str, passages: int) -> AnswerOutcome:
    # Its own search with /ask's k, not a slice of the deeper list: district coverage reorders within k.
    started = time.perf_counter()
    asked = fold(question.question)  # as server.service does, so evals score what the server answers
    answer = answerer.answer(asked, retriever.search(asked, k=passages, mode=mode))
    latency = (time.perf_counter() - started) * 1000
    hits = tuple(matches_evidence(c.text, c.article.article_id, question.evidence) for c in answer.citations)
    short = answer.short.text if answer.short is not None else None
    return AnswerOutcome(answer.text, bool(answer.abstained), hits, latency, short, answer.confidence)


def score_question(
    retriever: Retriever,
    answerer: Any | None,
    question: EvalQuestion,
    judgement: Judgements,
    mode: str,
    depth: int,
    answer_passages: int,
) -> QuestionResult:
    started = time.perf_counter()
    passages = retriever.search(fold(question.question), k=depth, mode=mode)
    latency = (time.perf_counter() - started) * 1000
    hits = tuple(matches_evidence(p.chunk.text, p.article.article_id, question.evidence) for p in passages)
    article_hits = tuple(p.article.article_id in judgement.articles for p in passages)
    outcome = _ask(retriever, answerer, question, mode, answer_passages) if answerer is not None else None
    return QuestionResult(
        question_id=question.id,
        type=question.type,
        district=question.district,
        answerable=question.answerable,
        gold_answer=question.answer,
        hits=hits,
        article_hits=article_hits,
        relevant=judgement.relevant_passages,
        latency_ms=latency,
        answer=outcome,
    )


def evaluate(
    questions: Sequence[EvalQuestion],
    retriever: Retriever,
    answerer: Any | None,
    modes: Sequence[str],
    k: int = 10,
    answer_passages: int = 5,
    show_progress: bool | None = None,
    judgements: Mapping[str, Judgements] | None = None,
) -> list[ModeRun]:
    """Score every question under every mode. `show_progress=None` shows the bar only on a terminal."""
    from tqdm import tqdm

    judgements = judgements if judgements is not None else judge(questions, retriever.index)
    depth = max(k, 10)
    runs = []
    disable = None if show_progress is None else not show_progress
    with tqdm(total=len(questions) * len(modes), unit="q", file=sys.stderr, disable=disable) as bar:
        for mode in modes:
            bar.set_description(mode)
            if questions:
                # Untimed warm-up: first-call costs (tokenizer dictionaries, allocator) are not per-query latency.
                retriever.search(questions[0].question, k=depth, mode=mode)
            results = []
            for question in questions:
                results.append(
                    score_question(retriever, answerer, question, judgements[question.id], mode, depth, answer_passages)
                )
                bar.update()
            runs.append(ModeRun(mode, tuple(results)))
    return runs


def summary(dataset: str, run: ModeRun, k: int = 10) -> dict[str, Any]:
    """The JSON object for one retriever: headline metrics, the Recall@1..k curve and the slices."""
    return {
        "dataset": dataset,
        "retriever": run.mode,
        "k": k,
        **summarize(run.results, k),
        "recall_curve": recall_curve(run.results, max(k, 10)),
        "slices": {
            "type": slices(run.results, lambda r: r.type),
            "district": slices(run.results, lambda r: r.district),
        },
    }


def misses(run: ModeRun, questions: Mapping[str, EvalQuestion]) -> list[EvalQuestion]:
    """Answerable questions with no hit in the top 10, for the report: what a reviewer should look at first."""
    return [questions[r.question_id] for r in run.results if r.answerable and not any(r.hits[:10])]
