"""The features the answer model scores a candidate sentence by (server/answer_model.py), all cheap: no embedding.

Per sentence: the question's topic words in it, in its passage, and in the clause holding the short answer; whether it
holds a span of the asked kind; the question's characters it repeats (CMRC questions reuse the sentence's wording);
year agreement; the passage's retrieval scores and rank. Then, over one question's candidates, each sentence's
distance to the best candidate on the word and character overlaps, since a model scoring one sentence at a time
cannot otherwise tell "best of these" from "good in itself".
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from server.question_profile import QuestionProfile

# Order matters: the weights file stores one coefficient per name, and loading checks the names match.
FEATURES = (
    "terms",
    "context_terms",
    "type_fit",
    "dense",
    "inv_rank",
    "fused_share",
    "sparse_share",
    "year_agrees",
    "year_missing",
    "has_span",
    "span_clause_terms",
    "focus_in_sentence",
    "focus_in_clause",
    "question_chars",
    "question_bigrams",
    "idf_bigrams",
    "idf_terms",
    "log_length",
    "terms_gap",
    "bigrams_gap",
    "dense_gap",
    "idf_bigrams_gap",
    "idf_terms_gap",
    "expects_number",
    "expects_date",
    "expects_place",
    "expects_list",
    "number_fit",
    "asks_year",
    "asks_district",
)
RELATIVE = {
    "terms_gap": "terms",
    "bigrams_gap": "question_bigrams",
    "dense_gap": "dense",
    "idf_bigrams_gap": "idf_bigrams",
    "idf_terms_gap": "idf_terms",
}

_ASK_WORDS = re.compile(r"什么时候|什么|哪[个些里年位家座种一天]?|谁|多少|几|何时|怎样|如何|为什么|是否|吗|呢")
_NOT_TEXT = re.compile(r"[\s\W_]+")
_CLAUSE = re.compile(r"[^，,；;。！？!?\n]+")


def question_grams(question: str) -> tuple[frozenset[str], frozenset[str]]:
    """The question's characters and character bigrams, question words and punctuation left out."""
    text = _NOT_TEXT.sub("", _ASK_WORDS.sub(" ", question.lower()))
    return frozenset(text), frozenset(text[i : i + 2] for i in range(len(text) - 1))


def overlap(grams: frozenset[str], text: str, size: int) -> float:
    if not grams:
        return 0.0
    lowered = text.lower()
    found = set(lowered) if size == 1 else {lowered[i : i + size] for i in range(len(lowered) - size + 1)}
    return len(grams & found) / len(grams)


def focus_presence(focus: str | None, text: str) -> float:
    """1 when the asked-about word (收购价, 产值) is in the text, its share of bigrams when only part is, 1 when the
    question names none."""
    if not focus:
        return 1.0
    lowered = text.lower()
    if focus in lowered:
        return 1.0
    grams = {focus[i : i + 2] for i in range(len(focus) - 1)}
    return sum(g in lowered for g in grams) / len(grams) if grams else 0.0


def clause_around(sentence: str, start: int, end: int) -> str:
    for match in _CLAUSE.finditer(sentence):
        if match.start() <= start < match.end() or match.start() < end <= match.end():
            return match.group()
    return sentence[start:end]


def question_flags(profile: QuestionProfile) -> dict[str, float]:
    return {
        "expects_number": float(profile.expected == "number"),
        "expects_date": float(profile.expected == "date"),
        "expects_place": float(profile.expected == "place"),
        "expects_list": float(profile.expected == "list"),
        "asks_year": float(bool(profile.years)),
        "asks_district": float(bool(profile.districts)),
    }


def length_feature(sentence: str) -> float:
    return math.log(1 + len(sentence)) / 5


def idf_overlaps(texts: Sequence[str], grams: frozenset[str], terms: Sequence[str]) -> list[tuple[float, float]]:
    """Per sentence, the share of the question's bigrams and words it holds, each weighted by how few of the
    question's candidate sentences hold it: 大果西番莲 is in every sentence about it, 根部 in the one that answers."""
    lowered = [t.lower() for t in texts]
    n = len(lowered)

    def weights(keys: Sequence[str]) -> dict[str, float]:
        return {k: math.log((n + 1) / (sum(k in t for t in lowered) + 0.5)) for k in keys}

    gram_w, term_w = weights(sorted(grams)), weights(list(dict.fromkeys(terms)))
    gram_total, term_total = sum(gram_w.values()) or 1.0, sum(term_w.values()) or 1.0
    return [
        (
            sum(w for g, w in gram_w.items() if g in text) / gram_total,
            sum(w for t, w in term_w.items() if t in text) / term_total,
        )
        for text in lowered
    ]


def with_gaps(rows: Sequence[dict[str, float]]) -> list[tuple[float, ...]]:
    """Add each candidate's distance to the question's best candidate, then order the values as FEATURES."""
    best = {gap: max((r[base] for r in rows), default=0.0) for gap, base in RELATIVE.items()}
    out = []
    for row in rows:
        full = dict(row)
        for gap, base in RELATIVE.items():
            full[gap] = row[base] - best[gap]
        out.append(tuple(full[name] for name in FEATURES))
    return out
