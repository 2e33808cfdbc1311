"""Is a claim of an LLM answer supported by the passage it cites? A lexical check, cheap and explainable.

A claim is supported when every number it states (75, 32.5, 2025) occurs in the passage, and at least
MIN_BIGRAM_SUPPORT of its character bigrams do (punctuation and whitespace left out). Numbers are the facts a
resident acts on, and a model that cites the wrong passage almost always states a number that passage lacks; the
bigram share catches claims about something else entirely. An embedding check was not added: the passages are
short, the claims mostly restate them, and a cosine threshold on multilingual-e5-small separates paraphrase from a
wrong passage less reliably than the numbers do (both wrong-passage cases in the protocol test share topic words).
"""

from __future__ import annotations

import re

MIN_BIGRAM_SUPPORT = 0.5
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_IGNORED = re.compile(r"[\s\W_]+")


def _bigrams(text: str) -> set[str]:
    compact = _IGNORED.sub("", text.lower())
    return {compact[i : i + 2] for i in range(len(compact) - 1)}


def support(claim: str, passage: str) -> float:
    """0 when the claim states a number the passage lacks; else the share of its bigrams found in the passage."""
    compact_passage = "".join(passage.split())
    if any(number not in compact_passage for number in _NUMBER.findall(claim)):
        return 0.0
    grams = _bigrams(claim)
    if not grams:
        return 0.0
    return len(grams & _bigrams(passage)) / len(grams)


def supported(claim: str, passage: str) -> bool:
    return support(claim, passage) >= MIN_BIGRAM_SUPPORT
