"""Cited answers: the one to three sentences of the top passages that best answer a question, or an abstention.

Every citation is an exact span of its article (`article.text[start:end] == text`), and the answer text carries a
marker [n] after each cited sentence. With an LLM configured, its answer is used when it cites shown passages;
anything else falls back to the extractive answer.

Sentences are scored by shared topic words (weighted by how rare they are among the retrieved passages), whether
they hold the kind of answer asked for (a number with the asked unit, a date, a list, a place), and the passage's
retrieval cosine. Embedding each candidate sentence would cost several times /ask's 40 ms budget on this CPU, so
the passage cosine from retrieval stands in for sentence-level similarity.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from indexer.chunking import split_sentences
from indexer.districts import Gazetteer, make_tokenizer
from indexer.embedding import Embedder
from indexer.records import Article
from indexer.sparse import load_stopwords
from server.answer_features import term_coverage, type_score, with_local_idf, year_agreement
from server.llm import LlmClient
from server.question_profile import QuestionProfile, profile_question
from server.retrieval import Passage

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


@dataclass(frozen=True)
class AnswerConfig:
    """Weights and thresholds. Chosen on eval/datasets/corpus_gold.jsonl (148 answerable, 16 unanswerable) with
    bench/answer_check.py: a grid over the four weights and min_score, keeping a point inside the region that meets
    the targets rather than its best corner (the weights move answer accuracy by about one question either way)."""

    # Candidates come from the top passages only: deeper ones rarely hold the answer and add distractors.
    max_passages: int = 5
    max_sentences: int = 3
    # Shorter "sentences" are headings or fragments (核心提示) that answer nothing.
    min_sentence_chars: int = 8
    # Score = weighted sum of features in 0..1.
    w_sentence_terms: float = 1.0  # the question's topic words in the sentence itself
    w_context_terms: float = 0.35  # ... in its passage, which names the subject of 该公司 / 其
    w_type: float = 0.6  # holds the kind of answer asked for
    w_dense: float = 0.5  # the passage's retrieval cosine, rescaled over [dense_floor, dense_ceiling]
    w_rank: float = 0.15  # divided by 1 + the passage's position: earlier passages are likelier
    # The range multilingual-e5-small cosines of relevant passages span here (0.75 unrelated .. 0.92 on the spot).
    dense_floor: float = 0.75
    dense_ceiling: float = 0.92
    # A sentence stating another year than the asked one is no answer; one whose passage does not state the asked
    # year at all keeps this share of its score.
    year_missing_factor: float = 0.6
    # A sentence without the kind of answer asked for is no answer: a number question needs a number with a fitting
    # unit (0.6 admits Chinese numerals, 两年; a number with another unit scores 0.35), a date question a date.
    min_type_fit: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({"number": 0.5, "date": 1.0}))
    # Abstain when the best sentence scores below this share of the highest possible score. On the gold set,
    # 0.455..0.485 meets both abstention targets (below, unanswerable questions get answered; above, answerable
    # ones are refused); 0.47 sits in the middle.
    min_score: float = 0.47
    # A further sentence joins when it scores this close to the best (less close for questions with two asks or two
    # districts) and adds topic words or the other district, with at least this type fit.
    extra_ratio: float = 0.85
    extra_ratio_several: float = 0.7
    extra_min_new_terms: float = 0.15
    extra_min_type_fit: float = 0.5
    # Passages shown to the LLM.
    llm_passages: int = 5

    @property
    def max_score(self) -> float:
        return self.w_sentence_terms + self.w_context_terms + self.w_type + self.w_dense + self.w_rank


@dataclass(frozen=True)
class Candidate:
    passage: Passage
    start: int
    end: int
    text: str
    score: float
    type_fit: float
    covered: frozenset[str]  # topic words it holds
    districts: frozenset[str]  # asked districts it is about


def _compact(text: str) -> str:
    return "".join(text.split())


@dataclass(frozen=True)
class Answerer:
    embedder: Embedder  # part of the create() interface; not used for scoring (see the module docstring)
    gazetteer: Gazetteer
    tokenizer: Any  # a jieba.Tokenizer that knows the district names
    stopwords: frozenset[str]
    config: AnswerConfig
    llm: LlmClient | None = None  # None: extractive answers only

    @classmethod
    def create(
        cls, embedder: Embedder, gazetteer: Gazetteer, llm: LlmClient | None = None, config: AnswerConfig | None = None
    ) -> Answerer:
        tokenizer = gazetteer.tokenizer if gazetteer.tokenizer is not None else make_tokenizer(gazetteer)
        return cls(embedder, gazetteer, tokenizer, load_stopwords(), config or AnswerConfig(), llm)

    def profile(self, question: str) -> QuestionProfile:
        return profile_question(question, self.tokenizer, self.gazetteer, self.stopwords)

    def answer(self, question: str, passages: Sequence[Passage]) -> Answer:
        passages = tuple(passages)
        profile = self.profile(question)
        if not passages or not self._covers_districts(profile, passages):
            return abstention(passages)
        if self.llm is not None:
            from server.generated import generated_answer

            generated = generated_answer(self.llm, question, passages[: self.config.llm_passages], passages)
            if generated is not None:
                return generated
        return self.extract(profile, passages)

    def extract(self, profile: QuestionProfile, passages: tuple[Passage, ...]) -> Answer:
        cfg = self.config
        profile = with_local_idf(profile, [p.chunk.text for p in passages[: cfg.max_passages]])
        candidates = sorted(self.candidates(profile, passages), key=lambda c: -c.score)
        if not candidates or candidates[0].score < cfg.min_score * cfg.max_score:
            return abstention(passages)
        chosen = self._choose(profile, candidates)
        citations = tuple(
            Citation(n, c.passage.article, c.start, c.end, c.text, round(c.score, 4)) for n, c in enumerate(chosen, 1)
        )
        return Answer("".join(f"{c.text}[{c.n}]" for c in citations), False, None, citations, passages)

    def candidates(self, profile: QuestionProfile, passages: tuple[Passage, ...]) -> list[Candidate]:
        """Every distinct sentence of the top passages that could answer, scored."""
        cfg = self.config
        asked = set(profile.districts)
        seen: set[str] = set()
        out: list[Candidate] = []
        for position, passage in enumerate(passages[: cfg.max_passages]):
            chunk, article = passage.chunk, passage.article
            context_terms = term_coverage(profile, f"{article.title}\n{chunk.section or ''}\n{chunk.text}")
            dense = min(1.0, max(0.0, (passage.dense - cfg.dense_floor) / (cfg.dense_ceiling - cfg.dense_floor)))
            prior = cfg.w_context_terms * context_terms + cfg.w_dense * dense + cfg.w_rank / (1 + position)
            for span in split_sentences(article.text, chunk.start, chunk.end):
                text = article.text[span.start : span.end]
                key = _compact(text)
                if len(key) < cfg.min_sentence_chars or key in seen:
                    continue
                seen.add(key)  # the corpus repeats whole blocks: cite a sentence once
                # Tagging runs jieba, the costliest step here: do it only where districts matter, and only for
                # sentences that pass the cheap checks first.
                named = self.gazetteer.find(text) if profile.expected == "place" else ()
                fit = type_score(profile, text, named)
                years = year_agreement(profile, text, chunk.text)
                if years == 0.0 or fit < cfg.min_type_fit.get(profile.expected, 0.0):
                    continue
                if asked and profile.expected != "place":
                    named = self.gazetteer.find(text)
                # A sentence naming only other districts is about them, even inside a section on the asked one.
                about = set(named) if named else set(chunk.districts)
                if asked and not about & asked:
                    continue
                score = cfg.w_sentence_terms * term_coverage(profile, text) + cfg.w_type * fit + prior
                if years < 1.0:
                    score *= cfg.year_missing_factor
                covered = frozenset(t for t, _ in profile.terms if t in text.lower())
                out.append(
                    Candidate(passage, span.start, span.end, text, score, fit, covered, frozenset(about & asked))
                )
        return out

    def _choose(self, profile: QuestionProfile, candidates: list[Candidate]) -> list[Candidate]:
        """The best sentence, then others that score close and add what it lacks: topic words, or the other
        district of a two-district question, or the answer to a second question (排第几，卖到多少个国家)."""
        cfg = self.config
        best = candidates[0]
        several = profile.asks >= 2 or len(profile.districts) >= 2
        floor = best.score * (cfg.extra_ratio_several if several else cfg.extra_ratio)
        weights = dict(profile.terms)
        total = sum(weights.values()) or 1.0
        chosen = [best]
        covered, districts = set(best.covered), set(best.districts)
        for cand in candidates[1:]:
            if len(chosen) >= cfg.max_sentences or cand.score < floor:
                break
            new_terms = sum(weights[t] for t in cand.covered - covered) / total
            new_district = several and bool(cand.districts - districts)
            if (new_terms >= cfg.extra_min_new_terms or new_district) and cand.type_fit >= cfg.extra_min_type_fit:
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


def abstention(passages: tuple[Passage, ...]) -> Answer:
    """No answer, with the passages still offered as related reading."""
    return Answer(None, True, NOT_FOUND, (), passages)
