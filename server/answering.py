"""Cited answers: the one to three sentences of the top passages that best answer a question, or an abstention.

Every citation is an exact span of its article (`article.text[start:end] == text`), and the answer text carries a
marker [n] after each cited sentence. With an LLM configured, its answer is used when it cites real passages;
anything else falls back to the extractive answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from indexer.chunking import split_sentences
from indexer.embedding import Embedder
from indexer.records import Article
from indexer.sparse import load_stopwords
from server.answer_features import (
    QuestionProfile,
    profile_question,
    term_coverage,
    type_score,
    with_local_idf,
    year_agreement,
)
from server.retrieval import Passage

log = logging.getLogger(__name__)

NOT_FOUND = "资料中未找到与该问题直接相关的内容"
_MARKER = re.compile(r"\s*[\[［【](\d{1,3})[\]］】]")


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


@dataclass(frozen=True)
class AnswerConfig:
    """Weights and thresholds, chosen on eval/datasets/corpus_gold.jsonl with bench/answer_check.py."""

    # Candidate sentences come from this many top passages: deeper ones rarely hold the answer, and fewer
    # candidates mean fewer distractors with a matching number.
    max_passages: int = 5
    max_sentences: int = 3
    # Shorter "sentences" are headings or fragments (核心提示) that answer nothing.
    min_sentence_chars: int = 8
    # Score = weighted sum of the features below (each 0..1).
    w_sentence_terms: float = 1.0  # question words in the sentence itself
    w_context_terms: float = 0.35  # ... or in its passage, which supplies the subject of 该公司/其
    w_type: float = 0.6  # holds what the question asks for (a number with the asked unit, a date, a list, a place)
    w_dense: float = 0.5  # the passage's cosine to the question, rescaled over [dense_floor, dense_ceiling]
    w_rank: float = 0.15  # earlier passages are likelier, all else equal
    dense_floor: float = 0.75
    dense_ceiling: float = 0.92
    # A sentence stating another year than the asked one is no answer; one whose passage does not state the asked
    # year at all keeps this share of its score.
    year_missing_factor: float = 0.6
    # A sentence without what the question asks for is no answer: a number question needs a number (0.35 means one
    # with another unit will do, 1.0 means only the asked unit), a date question a date.
    min_type_fit: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({"number": 0.5, "date": 1.0}))
    # Abstain below this best score, or when the best sentence holds less than this share of the question's words.
    min_score: float = 1.0
    min_sentence_terms: float = 0.25
    # A further sentence joins the answer only when it scores this close to the best and adds question words.
    extra_ratio: float = 0.85
    extra_min_new_terms: float = 0.15
    # Weight question words by how few candidate passages hold them.
    local_idf: bool = True
    # Passages shown to the LLM.
    llm_passages: int = 5


@dataclass(frozen=True)
class _Candidate:
    passage: Passage
    start: int
    end: int
    text: str
    score: float
    sentence_terms: float
    type_fit: float
    covered: frozenset[str]


def _compact(text: str) -> str:
    return "".join(text.split())


@dataclass(frozen=True)
class Answerer:
    embedder: Embedder
    gazetteer: Any
    tokenizer: Any
    stopwords: frozenset[str]
    config: AnswerConfig
    llm: Any = None

    @classmethod
    def create(cls, embedder: Embedder, gazetteer: Any, llm: Any = None, config: AnswerConfig | None = None) -> Answerer:
        from indexer.districts import make_tokenizer

        tokenizer = gazetteer.tokenizer if getattr(gazetteer, "tokenizer", None) is not None else make_tokenizer(gazetteer)
        return cls(embedder, gazetteer, tokenizer, load_stopwords(), config or AnswerConfig(), llm)

    def profile(self, question: str) -> QuestionProfile:
        return profile_question(question, self.tokenizer, self.gazetteer, self.stopwords)

    def answer(self, question: str, passages: Sequence[Passage]) -> Answer:
        passages = tuple(passages)
        profile = self.profile(question)
        if not passages or not self._covers_districts(profile, passages):
            return self._abstain(passages)
        if self.llm is not None:
            generated = self._generate(question, profile, passages)
            if generated is not None:
                return generated
        return self._extract(profile, passages)

    # --- extractive -------------------------------------------------------------------------------------------

    def _extract(self, profile: QuestionProfile, passages: tuple[Passage, ...]) -> Answer:
        cfg = self.config
        candidates = sorted(self._candidates(profile, passages), key=lambda c: -c.score)
        if not candidates:
            return self._abstain(passages)
        best = candidates[0]
        if best.score < cfg.min_score or best.sentence_terms < cfg.min_sentence_terms:
            return self._abstain(passages)
        chosen = [best]
        covered = set(best.covered)
        weights = dict(profile.terms)
        total = sum(weights.values()) or 1.0
        for cand in candidates[1:]:
            if len(chosen) >= cfg.max_sentences or cand.score < best.score * cfg.extra_ratio:
                break
            new = sum(weights[t] for t in cand.covered - covered) / total
            if new >= cfg.extra_min_new_terms and cand.type_fit >= best.type_fit * 0.5:
                chosen.append(cand)
                covered |= cand.covered
        citations = tuple(
            Citation(n, c.passage.article, c.start, c.end, c.text, round(c.score, 4)) for n, c in enumerate(chosen, 1)
        )
        text = "".join(f"{c.text}[{c.n}]" for c in citations)
        return Answer(text, False, None, citations, passages)

    def _candidates(self, profile: QuestionProfile, passages: tuple[Passage, ...]) -> list[_Candidate]:
        cfg = self.config
        if cfg.local_idf:
            profile = with_local_idf(profile, [p.chunk.text for p in passages[: cfg.max_passages]])
        seen: set[str] = set()
        out: list[_Candidate] = []
        for position, passage in enumerate(passages[: cfg.max_passages]):
            chunk, article = passage.chunk, passage.article
            context = f"{article.title}\n{chunk.section or ''}\n{chunk.text}"
            context_terms = term_coverage(profile, context)
            span_dense = (passage.dense - cfg.dense_floor) / (cfg.dense_ceiling - cfg.dense_floor)
            dense = min(1.0, max(0.0, span_dense))
            for span in split_sentences(article.text, chunk.start, chunk.end):
                text = article.text[span.start : span.end]
                key = _compact(text)
                if len(key) < cfg.min_sentence_chars or key in seen:
                    continue
                seen.add(key)
                named = self.gazetteer.find(text)
                if not self._sentence_fits_districts(profile, named, passage):
                    continue
                terms = term_coverage(profile, text)
                fit = type_score(profile, text, named)
                score = (
                    cfg.w_sentence_terms * terms
                    + cfg.w_context_terms * context_terms
                    + cfg.w_type * fit
                    + cfg.w_dense * dense
                    + cfg.w_rank / (1 + position)
                )
                years = year_agreement(profile, text, chunk.text)
                if years == 0.0 or fit < cfg.min_type_fit.get(profile.expected, 0.0):
                    continue
                if years < 1.0:
                    score *= cfg.year_missing_factor
                covered = frozenset(t for t, _ in profile.terms if t in text.lower())
                out.append(_Candidate(passage, span.start, span.end, text, score, terms, fit, covered))
        return out

    # --- districts --------------------------------------------------------------------------------------------

    def _passage_districts(self, passage: Passage) -> set[str]:
        return set(passage.chunk.districts) | set(self.gazetteer.find(passage.chunk.text))

    def _covers_districts(self, profile: QuestionProfile, passages: tuple[Passage, ...]) -> bool:
        """A question about 长寿区 is not answered from 潼南 text: some passage must be about a district it names."""
        if not profile.districts:
            return True
        wanted = set(profile.districts)
        return any(self._passage_districts(p) & wanted for p in passages)

    def _sentence_fits_districts(self, profile: QuestionProfile, named: tuple[str, ...], passage: Passage) -> bool:
        if not profile.districts:
            return True
        wanted = set(profile.districts)
        if named:
            # A sentence naming only other districts is about them, even inside a section on the asked one.
            return bool(set(named) & wanted)
        return bool(self._passage_districts(passage) & wanted)

    def _abstain(self, passages: tuple[Passage, ...]) -> Answer:
        return Answer(None, True, NOT_FOUND, (), passages)

    # --- LLM --------------------------------------------------------------------------------------------------

    def _generate(self, question: str, profile: QuestionProfile, passages: tuple[Passage, ...]) -> Answer | None:
        from server.llm import LlmError, LlmPassage

        shown = passages[: self.config.llm_passages]
        data = [LlmPassage(n, p.article.title, p.chunk.text) for n, p in enumerate(shown, 1)]
        try:
            raw = self.llm.generate(question, data)
        except LlmError as exc:
            log.warning("LLM answer failed, using the extractive answer: %s", exc)
            return None
        answer = self._cite_generated(raw, shown, passages)
        if answer is None:
            log.warning("LLM answer cited no shown passage, using the extractive answer")
        return answer

    def _cite_generated(self, raw: str, shown: tuple[Passage, ...], passages: tuple[Passage, ...]) -> Answer | None:
        """Keep markers that point at a shown passage (renumbered by first use); drop the rest."""
        pieces: list[str] = []
        citations: list[Citation] = []
        by_span: dict[tuple[str, int, int], int] = {}
        last = 0
        for match in _MARKER.finditer(raw):
            claim = raw[last : match.start()]
            pieces.append(claim)
            last = match.end()
            n = int(match.group(1))
            if not 1 <= n <= len(shown):
                continue
            passage = shown[n - 1]
            start, end, overlap = self._best_sentence(passage, claim)
            key = (passage.article.article_id, start, end)
            if key not in by_span:
                by_span[key] = len(citations) + 1
                text = passage.article.text[start:end]
                citations.append(Citation(by_span[key], passage.article, start, end, text, round(overlap, 4)))
            pieces.append(f"[{by_span[key]}]")
        pieces.append(raw[last:])
        if not citations:
            return None
        return Answer("".join(pieces).strip(), False, None, tuple(citations), passages)

    def _best_sentence(self, passage: Passage, claim: str) -> tuple[int, int, float]:
        """The passage sentence sharing the most character bigrams with the claim it supports."""
        claim_grams = {claim[i : i + 2] for i in range(len(claim) - 1)}
        article = passage.article
        best = (passage.chunk.start, passage.chunk.end, 0.0)
        for span in split_sentences(article.text, passage.chunk.start, passage.chunk.end):
            text = article.text[span.start : span.end]
            grams = {text[i : i + 2] for i in range(len(text) - 1)}
            overlap = len(grams & claim_grams) / max(1, len(claim_grams))
            if overlap > best[2]:
                best = (span.start, span.end, overlap)
        return best
