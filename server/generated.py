"""LLM answers checked against the passages they cite.

Markers [n] that point at no shown passage are dropped; the rest are renumbered by first use and each becomes a
citation of the cited passage's sentence that best matches the claim before the marker, so citations stay verbatim
spans. An answer left without a valid marker, or any endpoint failure, returns None: the caller falls back to the
extractive answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from indexer.chunking import split_sentences
from server.llm import LlmClient, LlmError, LlmPassage
from server.retrieval import Passage

if TYPE_CHECKING:
    from server.answering import Answer

log = logging.getLogger(__name__)

# [1], full-width ［1］ and 【1】 all occur in Chinese model output.
MARKER = re.compile(r"\s*[\[［【]\s*(\d{1,3})\s*[\]］】]")


def _bigrams(text: str) -> set[str]:
    compact = "".join(text.split())
    return {compact[i : i + 2] for i in range(len(compact) - 1)}


def best_sentence(passage: Passage, claim: str) -> tuple[int, int, float]:
    """(start, end, overlap) of the passage sentence sharing the most character bigrams with the claim."""
    wanted = _bigrams(claim)
    article = passage.article
    best = (passage.chunk.start, passage.chunk.end, 0.0)
    for span in split_sentences(article.text, passage.chunk.start, passage.chunk.end):
        overlap = len(_bigrams(article.text[span.start : span.end]) & wanted) / max(1, len(wanted))
        if overlap > best[2]:
            best = (span.start, span.end, overlap)
    return best


def cite_generated(raw: str, shown: Sequence[Passage], passages: tuple[Passage, ...]) -> Answer | None:
    from server.answering import Answer, Citation

    pieces: list[str] = []
    citations: list[Citation] = []
    numbers: dict[tuple[str, int, int], int] = {}
    last, claim = 0, ""
    for match in MARKER.finditer(raw):
        text_before = raw[last : match.start()]
        pieces.append(text_before)
        last = match.end()
        # 「……[1][2]」: a marker right after another supports the same claim.
        claim = text_before if text_before.strip() else claim
        n = int(match.group(1))
        if not 1 <= n <= len(shown):
            log.info("dropping LLM marker [%d]: only %d passages were shown", n, len(shown))
            continue
        passage = shown[n - 1]
        start, end, overlap = best_sentence(passage, claim)
        key = (passage.article.article_id, start, end)
        if key not in numbers:
            numbers[key] = len(citations) + 1
            text = passage.article.text[start:end]
            citations.append(Citation(numbers[key], passage.article, start, end, text, round(overlap, 4)))
        if not pieces[-1].endswith(f"[{numbers[key]}]"):
            pieces.append(f"[{numbers[key]}]")
    pieces.append(raw[last:])
    if not citations:
        return None
    return Answer("".join(pieces).strip(), False, None, tuple(citations), passages)


def generated_answer(
    llm: LlmClient, question: str, shown: Sequence[Passage], passages: tuple[Passage, ...]
) -> Answer | None:
    """The LLM's answer with checked citations, or None when it fails or cites nothing that was shown."""
    data = [LlmPassage(n, p.article.title, p.chunk.text) for n, p in enumerate(shown, 1)]
    try:
        raw = llm.generate(question, data)
    except LlmError as exc:
        log.warning("LLM answer failed, falling back to the extractive answer: %s", exc)
        return None
    answer = cite_generated(raw, shown, passages)
    if answer is None:
        log.warning("LLM answer cited no shown passage, falling back to the extractive answer")
    return answer
