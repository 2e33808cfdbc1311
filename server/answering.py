"""Cited answers: the one to three sentences of the top passages that best answer a question, or an abstention,
and the short answer (the amount, date, place, list) inside the best one.

Every citation is an exact span of its article (`article.text[start:end] == text`), and the answer text carries a
marker [n] after each cited sentence. Sentences are scored by a learned model (server/answer_model.py) over cheap
features (server/sentence_features.py); it abstains when the best sentence's probability is under the threshold
chosen on the tuning sets. Embedding each candidate sentence would cost several times /ask's budget on this CPU, so
the passage cosine from retrieval stands in for sentence-level similarity. With an LLM configured, it is asked only
when the extractive answerer would answer, and its sentences are kept only where the cited passage supports them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from indexer.chunking import split_sentences
from indexer.districts import Gazetteer, make_tokenizer
from indexer.embedding import Embedder
from indexer.records import Article
from indexer.sparse import load_stopwords
from server.answer_features import term_coverage, type_score, with_local_idf, year_agreement
from server.answer_model import AnswerModel, SentenceScorer, confidence_row
from server.llm import LlmClient
from server.question_profile import QuestionProfile, profile_question
from server.retrieval import Passage
from server.sentence_features import (
    clause_around,
    focus_presence,
    idf_overlaps,
    length_feature,
    overlap,
    question_flags,
    question_grams,
    with_gaps,
)
from server.short_answer import ShortAnswer, short_answer

log = logging.getLogger(__name__)

NOT_FOUND = "资料中未找到与该问题直接相关的内容"


@dataclass(frozen=True)
class Citation:
    n: int
    article: Article
    start: int
    end: int
    text: str
    score: float


@dataclass(frozen=True)
class Answer:
    text: str | None
    abstained: bool
    message: str | None
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]
    short: ShortAnswer | None = None  # the asked amount, date, place or list itself, inside a cited sentence
    short_citation: int | None = None  # the [n] whose sentence holds it
    confidence: float = 0.0  # the answer model's confidence in the best sentence (0: no sentence qualified)


@dataclass(frozen=True)
class AnswerConfig:
    """What is read and how much is said. How sentences are scored and when to abstain is learned
    (server/answer_model.py, trained by bench/train_answerer.py)."""

    # Candidates come from the top passages only: deeper ones rarely hold the answer and add distractors.
    max_passages: int = 5
    max_sentences: int = 3
    # Shorter "sentences" are headings or fragments (核心提示) that answer nothing.
    min_sentence_chars: int = 8
    # The range multilingual-e5-small cosines of relevant passages span here (0.75 unrelated .. 0.92 on the spot).
    dense_floor: float = 0.75
    dense_ceiling: float = 0.92
    # A further sentence joins when it adds this share of the topic words (or the other asked district).
    extra_min_new_terms: float = 0.15
    # Passages shown to the LLM.
    llm_passages: int = 5


@dataclass(frozen=True)
class Candidate:
    passage: Passage
    start: int
    end: int
    text: str
    features: tuple[float, ...]  # in the order of sentence_features.FEATURES
    covered: frozenset[str]  # topic words it holds
    districts: frozenset[str]  # asked districts it is about
    span: ShortAnswer | None  # the short answer inside it, article offsets
    score: float = 0.0  # the model's probability that it answers the question


MIN_TYPE_FIT = MappingProxyType({"number": 0.5, "date": 1.0})


def _compact(text: str) -> str:
    return "".join(text.split())


@dataclass(frozen=True)
class Answerer:
    embedder: Embedder  # part of the create() interface; not used for scoring (see the module docstring)
    gazetteer: Gazetteer
    tokenizer: Any  # a jieba.Tokenizer that knows the district names
    stopwords: frozenset[str]
    config: AnswerConfig
    model: SentenceScorer
    llm: LlmClient | None = None  # None: extractive answers only

    @classmethod
    def create(
        cls,
        embedder: Embedder,
        gazetteer: Gazetteer,
        llm: LlmClient | None = None,
        config: AnswerConfig | None = None,
        model: SentenceScorer | None = None,
    ) -> Answerer:
        tokenizer = gazetteer.tokenizer if gazetteer.tokenizer is not None else make_tokenizer(gazetteer)
        model = model or AnswerModel.load()
        return cls(embedder, gazetteer, tokenizer, load_stopwords(), config or AnswerConfig(), model, llm)

    def profile(self, question: str) -> QuestionProfile:
        return profile_question(question, self.tokenizer, self.gazetteer, self.stopwords)

    def answer(self, question: str, passages: Sequence[Passage]) -> Answer:
        passages = tuple(passages)
        profile = self.profile(question)
        if not passages or not self._covers_districts(profile, passages):
            return abstention(passages)
        extractive = self.extract(profile, passages)
        # The abstention decision is the extractive one, made before any LLM call: a model is never asked to
        # phrase an answer the articles do not hold.
        if extractive.abstained or self.llm is None:
            return extractive
        from server.generated import generated_answer

        generated = generated_answer(self.llm, question, passages[: self.config.llm_passages], passages)
        if generated is None:
            return extractive
        return replace(generated, confidence=extractive.confidence, **_short_in(extractive, generated))

    def extract(self, profile: QuestionProfile, passages: tuple[Passage, ...]) -> Answer:
        ranked = self.scored(profile, passages)
        confidence = round(self.confidence(ranked), 4) if ranked else 0.0
        if confidence < self.model.threshold:
            return replace(abstention(passages), confidence=confidence)
        chosen = self._choose(profile, ranked)
        citations = tuple(
            Citation(n, c.passage.article, c.start, c.end, c.text, round(c.score, 4)) for n, c in enumerate(chosen, 1)
        )
        short = chosen[0].span
        text = "".join(f"{c.text}[{c.n}]" for c in citations)
        return Answer(text, False, None, citations, passages, short, 1 if short else None, confidence)

    def confidence(self, ranked: list[Candidate]) -> float:
        """How likely the best sentence is a right answer, from its features and its lead over the runner-up."""
        runner_up = ranked[1].score if len(ranked) > 1 else 0.0
        return self.model.confidence(confidence_row(ranked[0].score, runner_up, len(ranked), ranked[0].features))

    def scored(self, profile: QuestionProfile, passages: tuple[Passage, ...]) -> list[Candidate]:
        """The candidates with the model's probabilities, best first."""
        candidates = self.candidates(profile, passages)
        if not candidates:
            return []
        probabilities = self.model.probabilities(np.asarray([c.features for c in candidates], dtype=float))
        ranked = [replace(c, score=float(p)) for c, p in zip(candidates, probabilities, strict=True)]
        return sorted(ranked, key=lambda c: -c.score)

    def candidates(self, profile: QuestionProfile, passages: tuple[Passage, ...]) -> list[Candidate]:
        """Every distinct sentence of the top passages that could answer, with its features (unscored)."""
        cfg = self.config
        profile = with_local_idf(profile, [p.chunk.text for p in passages[: cfg.max_passages]])
        asked = set(profile.districts)
        chars, bigrams = question_grams(profile.question)
        flags = question_flags(profile)
        top_fused = max((p.score for p in passages[: cfg.max_passages]), default=0.0) or 1.0
        top_sparse = max((p.sparse for p in passages[: cfg.max_passages]), default=0.0) or 1.0
        seen: set[str] = set()
        rows: list[dict[str, float]] = []
        found: list[Candidate] = []
        for position, passage in enumerate(passages[: cfg.max_passages]):
            chunk, article = passage.chunk, passage.article
            context_terms = term_coverage(profile, f"{article.title}\n{chunk.section or ''}\n{chunk.text}")
            dense = min(1.0, max(0.0, (passage.dense - cfg.dense_floor) / (cfg.dense_ceiling - cfg.dense_floor)))
            for sentence in split_sentences(article.text, chunk.start, chunk.end):
                text = article.text[sentence.start : sentence.end]
                key = _compact(text)
                if len(key) < cfg.min_sentence_chars or key in seen:
                    continue
                seen.add(key)  # the corpus repeats whole blocks: cite a sentence once
                years = year_agreement(profile, text, chunk.text, article.date)
                if years == 0.0:
                    continue  # a sentence about another year never answers a question about this one
                # Tagging runs jieba, the costliest step here: do it only where districts matter, and only for
                # sentences that pass the cheap checks first.
                named = self.gazetteer.find(text) if profile.expected == "place" else ()
                fit = type_score(profile, text, named)
                # A number question needs a number with a fitting unit (0.6 admits Chinese numerals, 两年), a date
                # question a date: without one a sentence answers something else, however many words it shares.
                if fit < MIN_TYPE_FIT.get(profile.expected, 0.0):
                    continue
                if asked and profile.expected != "place":
                    named = self.gazetteer.find(text)
                # A sentence naming only other districts is about them, even inside a section on the asked one.
                about = set(named) if named else set(chunk.districts)
                if asked and not about & asked:
                    continue
                span = short_answer(profile, article.text, sentence.start, sentence.end, named)
                terms = term_coverage(profile, text)
                clause = clause_around(text, span.start - sentence.start, span.end - sentence.start) if span else ""
                rows.append(
                    {
                        "terms": terms,
                        "context_terms": context_terms,
                        "type_fit": fit,
                        "dense": dense,
                        "inv_rank": 1 / (1 + position),
                        "fused_share": passage.score / top_fused,
                        "sparse_share": passage.sparse / top_sparse,
                        "year_agrees": float(years == 1.0 and bool(profile.years)),
                        "year_missing": float(years < 1.0),
                        "has_span": float(span is not None),
                        "span_clause_terms": term_coverage(profile, clause) if clause else 0.0,
                        "focus_in_sentence": focus_presence(profile.focus, text),
                        "focus_in_clause": focus_presence(profile.focus, clause) if clause else 0.0,
                        "question_chars": overlap(chars, text, 1),
                        "question_bigrams": overlap(bigrams, text, 2),
                        "log_length": length_feature(text),
                        "number_fit": fit * flags["expects_number"],
                        **flags,
                    }
                )
                covered = frozenset(t for t, _ in profile.terms if t in text.lower())
                found.append(
                    Candidate(passage, sentence.start, sentence.end, text, (), covered, frozenset(about & asked), span)
                )
        terms = [t for t, _ in profile.terms]
        for row, (idf_bigrams, idf_terms) in zip(
            rows, idf_overlaps([c.text for c in found], bigrams, terms), strict=True
        ):
            row["idf_bigrams"], row["idf_terms"] = idf_bigrams, idf_terms
        return [replace(c, features=f) for c, f in zip(found, with_gaps(rows), strict=True)]

    def _choose(self, profile: QuestionProfile, candidates: list[Candidate]) -> list[Candidate]:
        """The best sentence, then others that score close and add what it lacks: topic words, or the other
        district of a two-district question, or the answer to a second question (排第几，卖到多少个国家)."""
        cfg = self.config
        best = candidates[0]
        several = profile.asks >= 2 or len(profile.districts) >= 2
        floor = best.score * self.model.extra_ratio
        weights = dict(profile.terms)
        total = sum(weights.values()) or 1.0
        chosen = [best]
        covered, districts = set(best.covered), set(best.districts)
        for cand in candidates[1:]:
            if len(chosen) >= cfg.max_sentences or cand.score < floor:
                break
            new_terms = sum(weights[t] for t in cand.covered - covered) / total
            new_district = several and bool(cand.districts - districts)
            if new_terms >= cfg.extra_min_new_terms or new_district:
                chosen.append(cand)
                covered |= cand.covered
                districts |= cand.districts
        return chosen

    @staticmethod
    def _covers_districts(profile: QuestionProfile, passages: tuple[Passage, ...]) -> bool:
        """A question about 长寿区 is not answered from 潼南 text: some passage must be tagged with a district it
        names (the chunker tags each chunk with the districts its text, section and article name)."""
        if not profile.districts:
            return True
        return any(set(p.chunk.districts) & set(profile.districts) for p in passages)


def _short_in(extractive: Answer, generated: Answer) -> dict[str, Any]:
    """The extractive short answer, kept for a generated answer when one of its citations holds the span."""
    short = extractive.short
    if short is None or extractive.short_citation is None:
        return {}
    article_id = extractive.citations[extractive.short_citation - 1].article.article_id
    for citation in generated.citations:
        if citation.article.article_id == article_id and citation.start <= short.start and short.end <= citation.end:
            return {"short": short, "short_citation": citation.n}
    return {}


def abstention(passages: tuple[Passage, ...]) -> Answer:
    """No answer, with the passages still offered as related reading."""
    return Answer(None, True, NOT_FOUND, (), passages)
