"""LLM answers held to the extractive answer's rules: every claim cites a shown passage that supports it.

The model's text is cut into claims, each ending in its marker(s) [n]. A claim is kept only when one of its markers
points at a shown passage and that passage supports it (server/support_check.py); a claim with no valid marker, or
citing a passage that does not bear it out, is dropped with its marker. Kept markers are renumbered by first use
and each becomes a citation of the cited passage's sentence that best matches the claim, so citations stay verbatim
spans. When no claim is left, or the endpoint fails, the result is None: the caller returns the extractive answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from indexer.chunking import split_sentences
from server.llm import LlmClient, LlmError, LlmPassage
from server.retrieval import Passage
from server.support_check import supported

if TYPE_CHECKING:
    from server.answering import Answer, Citation

log = logging.getLogger(__name__)

# [1], full-width ［1］ and 【1】 all occur in Chinese model output.
MARKER = re.compile(r"\s*[\[［【]\s*(\d{1,3})\s*[\]］】]")
# A claim: text, then one or more markers; trailing punctuation after the markers belongs to it.
CLAIM = re.compile(
    r"(?P<text>[^\[［【]*?)(?P<markers>(?:\s*[\[［【]\s*\d{1,3}\s*[\]］】])+)(?P<tail>[，,。；;！!？?、]?)"
)
_PUNCTUATION_ONLY = re.compile(r"^[\s，,。；;！!？?、…]*$")


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
    from server.answering import Answer

    pieces: list[str] = []
    citations: list[Citation] = []
    numbers: dict[tuple[str, int, int], int] = {}
    last = 0
    for match in CLAIM.finditer(raw):
        last = match.end()
        claim = match.group("text")
        kept = _kept_markers(claim, match.group("markers"), shown)
        if not kept:
            continue
        marks = ""
        for n in kept:
            key = _cite(shown[n - 1], claim, numbers, citations)
            if f"[{key}]" not in marks:
                marks += f"[{key}]"
        pieces.append(f"{claim.strip()}{marks}{match.group('tail')}")
    rest = raw[last:]
    if not _PUNCTUATION_ONLY.match(rest):
        log.info("dropping LLM text without a citation marker: %r", rest[:80])
    if not citations:
        return None
    text = "".join(pieces).strip()
    if text[-1] in "，,、；;":
        text = text[:-1] + "。"
    return Answer(text, False, None, tuple(citations), passages)


def _kept_markers(claim: str, markers: str, shown: Sequence[Passage]) -> list[int]:
    """The claim's markers that point at a shown passage supporting it."""
    kept = []
    for found in MARKER.finditer(markers):
        n = int(found.group(1))
        if not 1 <= n <= len(shown):
            log.info("dropping LLM claim marker [%d]: only %d passages were shown", n, len(shown))
        elif not supported(claim, shown[n - 1].chunk.text):
            log.info("dropping LLM claim unsupported by passage [%d]: %r", n, claim[:80])
        else:
            kept.append(n)
    return kept


def _cite(passage: Passage, claim: str, numbers: dict[tuple[str, int, int], int], citations: list[Citation]) -> int:
    from server.answering import Citation

    start, end, overlap = best_sentence(passage, claim)
    key = (passage.article.article_id, start, end)
    if key not in numbers:
        numbers[key] = len(citations) + 1
        text = passage.article.text[start:end]
        citations.append(Citation(numbers[key], passage.article, start, end, text, round(overlap, 4)))
    return numbers[key]


def generated_answer(
    llm: LlmClient, question: str, shown: Sequence[Passage], passages: tuple[Passage, ...]
) -> Answer | None:
    """The LLM's answer with checked citations, or None when it fails or no claim is supported by what it cites."""
    data = [LlmPassage(n, p.article.title, p.chunk.text) for n, p in enumerate(shown, 1)]
    try:
        raw = llm.generate(question, data)
    except LlmError as exc:
        log.warning("LLM answer failed, falling back to the extractive answer: %s", exc)
        return None
    answer = cite_generated(raw, shown, passages)
    if answer is None:
        log.warning("LLM answer kept no supported, validly cited claim; falling back to the extractive answer")
    return answer
